namespace Engine.Upstream;

/// <summary>Why a selection found no node, in the order the catalog asks (errors.md).</summary>
internal enum SelectStatus : byte
{
    Selected,
    /// <summary>557 NO_PROXY: no node in the pool is online at all.</summary>
    NoProxy,
    /// <summary>502 NODE_NOT_FOUND: nodes are online but none has these tags.</summary>
    NoMatch,
    /// <summary>502 NODE_UNAVAILABLE: matching nodes exist but every one is out, banned for the domain, or already tried.</summary>
    Unavailable,
}
