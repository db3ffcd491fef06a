namespace Engine.Diagnostics;

/// <summary>HAProxy-style two-letter state: who ended it × when (e.g. <c>--</c>, <c>CD</c>, <c>sH</c>).</summary>
internal readonly record struct TerminationState(TerminationCause Cause, TerminationPhase Phase)
{
    public static TerminationState Normal => new(TerminationCause.Normal, TerminationPhase.Completed);

    public bool TryFormat(Span<byte> destination)
    {
        if (destination.Length < 2)
        {
            return false;
        }

        destination[0] = (byte)Cause;
        destination[1] = (byte)Phase;
        return true;
    }

    public override string ToString() => string.Create(2, this, static (span, s) =>
    {
        span[0] = (char)s.Cause;
        span[1] = (char)s.Phase;
    });
}
