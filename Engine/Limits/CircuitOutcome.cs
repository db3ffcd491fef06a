namespace Engine.Limits;

internal enum CircuitOutcome : byte
{
    /// <summary>The target answered (any status below 500) or the tunnel opened.</summary>
    Success,
    /// <summary>The target failed: refused, reset, unresolvable, timed out, malformed, or a 5xx.</summary>
    Failure,
    /// <summary>Says nothing about the target (client gone, a node's fault, refused before routing).</summary>
    Neutral,
}
