namespace Engine.Upstream;

/// <summary>How routing one request ended: a path to the target, or which step refused (mapped to the catalog by <c>Errors/ProxyFailures</c>).</summary>
internal enum RouteStatus : byte
{
    /// <summary>Not routed: the request was refused before (its rules did not parse).</summary>
    NotRouted,
    Connected,
    /// <summary>The session id is in use with different rules.</summary>
    SessionMismatch,
    /// <summary>The session's bound node left the pool and <c>bind-node</c> forbids a replacement.</summary>
    BoundNodeGone,
    /// <summary>The session's bound node failed and <c>bind-node</c> forbids a replacement.</summary>
    BoundNodeFailed,
    /// <summary>The node failed and the policy (<c>onerror-fail</c>, the attempt budget) allows no replacement.</summary>
    NodeFailed,
    /// <summary><c>onerror-retry</c>: the node failed every retry and its one replacement failed too.</summary>
    RetriesExhausted,
    /// <summary>Nodes failed and no other matching node is left to replace them.</summary>
    NoNodeLeft,
    /// <summary>No node in the pool is online.</summary>
    NoProxy,
    /// <summary>No node matches the targeting rules (<see cref="Router.WriteUnmatchedFilters"/> names which).</summary>
    NoMatch,
    /// <summary>Nodes match, but every one is failing, cooling down or banned for this site.</summary>
    NoneAvailable,
    /// <summary>The node works; the target behind it failed (<see cref="RouteResult.Connect"/> says how).</summary>
    TargetFailed,
}
