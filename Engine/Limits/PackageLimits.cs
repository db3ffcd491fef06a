
namespace Engine.Limits;

/// <summary>A package's limits as the data path reads them (null = unlimited / off).</summary>
internal sealed record PackageLimits(int? RequestsPerSecond, int? MaxConcurrent, long? TrafficLimitBytes, CircuitBreakerOptions? CircuitBreaker,
    TrafficPeriod TrafficPeriod = TrafficPeriod.None)
{
    public static PackageLimits None { get; } = new(null, null, null, null);

    public bool IsUnlimited => RequestsPerSecond is null && MaxConcurrent is null && TrafficLimitBytes is null;
}
