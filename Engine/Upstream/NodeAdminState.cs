namespace Engine.Upstream;

/// <summary>What an operator (or a configuration reload) says about a node, beside its health.</summary>
internal enum NodeAdminState
{
    /// <summary>Chosen when healthy.</summary>
    Active,
    /// <summary>No new requests or sessions; running tunnels and requests finish. <c>enable</c> brings it back.</summary>
    Draining,
    /// <summary>Deleted (admin API) or gone from the configuration: never chosen again; sessions on it move as onerror says.</summary>
    Removed,
}
