namespace Engine.Limits;

/// <summary>
/// <c>Engine.Packages[i].CircuitBreaker</c>: per target domain. Polly v8's defaults (0.1 ratio over
/// 30 s, 100 requests minimum, 5 s break) are tuned for in-process service calls; scraped sites fail
/// far more often and recover slower, so the spec's figures: 0.3 over 5 min, 20 minimum, 1 min cooldown.
/// </summary>
internal sealed class CircuitBreakerOptions
{
    public double FailureRatio { get; init; } = 0.3;

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(5);

    public int MinRequests { get; init; } = 20;

    public TimeSpan Cooldown { get; init; } = TimeSpan.FromMinutes(1);
}
