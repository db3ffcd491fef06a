namespace Engine.Admin;

/// <summary>
/// <c>GET /status.json</c>: what the status page draws, in one request. Totals are cumulative
/// since start; the page turns two samples into rates.
/// </summary>
internal sealed record StatusSummary(
    DateTimeOffset Time,
    long OpenConnections,
    long Requests,
    long Tunnels,
    long BytesIn,
    long BytesOut,
    IReadOnlyDictionary<string, long> Codes,
    bool StateDegraded,
    IReadOnlyList<NodeView> Nodes);
