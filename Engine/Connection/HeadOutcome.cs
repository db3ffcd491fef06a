namespace Engine.Connection;

internal enum HeadOutcome : byte
{
    Complete,
    /// <summary>The client closed cleanly between requests.</summary>
    Closed,
    /// <summary>No byte of a next request within IdleTimeout.</summary>
    IdleTimeout,
    /// <summary>A head started but was not complete within RequestHeadTimeout (slowloris).</summary>
    HeadTimeout,
    /// <summary>The client closed part-way through a head.</summary>
    Truncated,
    Rejected,
    /// <summary>Draining for shutdown while idle.</summary>
    Draining,
}
