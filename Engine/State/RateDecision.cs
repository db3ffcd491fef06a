namespace Engine.State;

/// <summary>A token-bucket answer: admitted, or how many whole seconds until a token is there (≥ 1).</summary>
internal readonly record struct RateDecision(bool Allowed, int RetryAfterSeconds)
{
    public static RateDecision Admit { get; } = new(true, 0);
}
