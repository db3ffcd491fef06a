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
    int DomainBans);
