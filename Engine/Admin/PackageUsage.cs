namespace Engine.Admin;

/// <summary>
/// <c>GET /packages/{id}/usage</c>: what a package used against its limits (null limit = unlimited).
/// <see cref="Sessions"/> is what this instance holds (null with the Redis store, which cannot count them cheaply).
/// </summary>
internal sealed record PackageUsage(
    string Id,
    string Status,
    long TrafficUsedBytes,
    long? TrafficLimitBytes,
    int InFlight,
    int? MaxConcurrent,
    int? RequestsPerSecond,
    int? Sessions,
    int MaxSessions,
    bool StateDegraded);
