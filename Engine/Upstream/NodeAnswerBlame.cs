namespace Engine.Upstream;

/// <summary>Whose failure a node's error answer reports.</summary>
internal enum NodeAnswerBlame : byte
{
    /// <summary>No proxy error signal: the target's own response, relayed untouched.</summary>
    None,

    /// <summary>The node worked and the target failed (name, connect, reset, timeout): no failover, a fresh node would fail the same way.</summary>
    Target,

    /// <summary>The node itself failed or refused: count it against the node and fail over.</summary>
    Node,
}
