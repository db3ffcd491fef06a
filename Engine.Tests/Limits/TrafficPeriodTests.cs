using Engine.Auth;
using Engine.Limits;
using Engine.State;

namespace Engine.Tests.Limits;

/// <summary>Packages[].TrafficPeriod: a periodic cap starts again at the UTC period's start, and the 429 says when.</summary>
public class TrafficPeriodTests
{
    private const long Cap = 1000;

    private sealed class UtcClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static Package Capped(TrafficPeriod period) =>
        new("p", "p-key", limits: new PackageLimits(null, null, Cap, null, period));

    [Fact]
    public async Task Day_CapUsedUp_RefusesUntilUtcMidnight_ThenStartsFromZero()
    {
        var clock = new UtcClock(new DateTimeOffset(2026, 12, 5, 23, 59, 0, TimeSpan.Zero));
        var limiter = new RequestLimiter(new MemoryStateStore(clock), null, clock);
        Package package = Capped(TrafficPeriod.Day);
        limiter.AddTraffic(package, Cap);

        (Admission verdict, int retryAfter, _) = await limiter.AdmitAsync(package);
        Assert.Equal(Admission.TrafficExceeded, verdict);
        Assert.Equal(60, retryAfter);
        Assert.False(limiter.HasTrafficLeft(package));

        clock.Now = clock.Now.AddSeconds(60);
        (verdict, _, _) = await limiter.AdmitAsync(package);
        Assert.Equal(Admission.Admitted, verdict);
        Assert.Equal(0, limiter.TrafficUsed(package));
    }

    [Fact]
    public async Task Month_CapUsedUp_RetryAfterReachesTheFirstOfNextMonth()
    {
        var clock = new UtcClock(new DateTimeOffset(2026, 12, 31, 12, 0, 0, TimeSpan.Zero));
        var limiter = new RequestLimiter(new MemoryStateStore(clock), null, clock);
        Package package = Capped(TrafficPeriod.Month);
        limiter.AddTraffic(package, Cap + 1);

        (Admission verdict, int retryAfter, _) = await limiter.AdmitAsync(package);

        Assert.Equal(Admission.TrafficExceeded, verdict);
        Assert.Equal((int)TimeSpan.FromHours(12).TotalSeconds, retryAfter);
        clock.Now = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.True(limiter.HasTrafficLeft(package));
    }

    [Fact]
    public async Task None_CapUsedUp_NeverResetsAndAnnouncesNoWait()
    {
        var clock = new UtcClock(new DateTimeOffset(2026, 12, 5, 23, 59, 0, TimeSpan.Zero));
        var state = new MemoryStateStore(clock);
        var limiter = new RequestLimiter(state, null, clock);
        Package package = Capped(TrafficPeriod.None);
        limiter.AddTraffic(package, Cap);

        clock.Now = clock.Now.AddDays(40);
        (Admission verdict, int retryAfter, _) = await limiter.AdmitAsync(package);

        Assert.Equal(Admission.TrafficExceeded, verdict);
        Assert.Equal(-1, retryAfter);
        // A lifetime cap keeps the package id as its counter: shared stores and the admin API see the same key as before.
        Assert.Equal(Cap, state.TrafficUsed("p"));
    }
}
