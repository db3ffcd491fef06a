namespace Engine.Admin;

/// <summary>A node as <c>GET /nodes</c> shows it: configuration tags, admin state and live health.</summary>
internal sealed record NodeView(
    string Id,
    string Type,
    NodeTagsView Tags,
    int Weight,
    string AdminState,
    bool Available,
    int InFlight,
    int ConsecutiveFailures,
    int Ejections,
    DateTimeOffset? OutUntil,
    int DomainBans,
    string Origin,
    GatewayView? Gateway = null);

/// <summary>What a provider gateway node can express (never its credentials).</summary>
internal sealed record GatewayView(string? Preset, string[] Expresses, int MaxSessionSeconds, int FailuresToEject);
