namespace Engine.Admin;

/// <summary><c>GET /sessions/{package}/{id}</c>: a live sticky session.</summary>
internal sealed record SessionView(
    string Package,
    string Id,
    string? NodeId,
    int RequestsOnNode,
    double AgeSeconds,
    double ExpiresInSeconds,
    int LengthSeconds,
    int IdleTtlSeconds,
    int RotateSeconds,
    int RotateRequests);
