namespace Engine.Fuzz;

/// <summary>
/// A target found the component in a state its contract rules out (split feeding disagreeing with
/// whole feeding, an accepted rule that does not round-trip). Thrown so afl-fuzz records a crash.
/// </summary>
internal sealed class InvariantViolationException : Exception
{
    public InvariantViolationException()
    {
    }

    public InvariantViolationException(string message)
        : base(message)
    {
    }

    public InvariantViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public static void ThrowIfDifferent(string whole, string other, string feeding)
    {
        if (!string.Equals(whole, other, StringComparison.Ordinal))
        {
            throw new InvariantViolationException($"{feeding} feeding gave a different outcome:\n  whole: {whole}\n  {feeding}: {other}");
        }
    }

    public static void ThrowIf(bool violated, string message)
    {
        if (violated)
        {
            throw new InvariantViolationException(message);
        }
    }
}
