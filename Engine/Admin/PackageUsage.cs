namespace Engine.Admin;

/// <summary><c>GET /packages/{id}/usage</c>: what a package used against its limits (null limit = unlimited).</summary>
internal sealed record PackageUsage(
    string Id,
    string Status,
    long TrafficUsedBytes,
    long? TrafficLimitBytes,
    int InFlight,
    int? MaxConcurrent,
    int? RequestsPerSecond,
    bool StateDegraded);
