namespace Engine.Upstream;

/// <summary>A snapshot of <see cref="UpstreamConnectionPool"/> for metrics.</summary>
/// <param name="Idle">Idle sockets held now.</param>
/// <param name="Keys">Keys tracked now (some may have no idle socket until the next sweep).</param>
/// <param name="Hits">Rents that returned a socket.</param>
/// <param name="Misses">Rents that found nothing usable.</param>
/// <param name="Stale">Pooled sockets found closed (or with unsolicited bytes) when rented, and disposed.</param>
/// <param name="Expired">Pooled sockets disposed for staying idle too long.</param>
/// <param name="Rejected">Returns refused (limits, pool disposed, not connected) and disposed.</param>
internal readonly record struct UpstreamPoolCounts(int Idle, int Keys, long Hits, long Misses, long Stale, long Expired, long Rejected);
