using System.Diagnostics;
using Engine.Auth;
using Engine.Tests.Fixtures;
using Engine.Tests.Forwarding;
using Engine.Tests.Upstream;

namespace Engine.Tests.Robustness;

public sealed class BruteForceTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly TestOrigin _origin = new();
    private readonly ManualTimeProvider _time = new();
    private readonly AuthFailureThrottle _throttle;
    private ProxyFixture _proxy = null!;

    public BruteForceTests() => _throttle = new(5, _time);

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o =>
        {
            o.AuthThrottle = _throttle;
            o.Time = _time;
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task WrongKeys_OverTheBudget_AreSlowedAndClosed_RightKeysAreNot()
    {
        // The engine's clock stands still: an answer that needs it to move cannot come early, and
        // one that arrives while it stands was not delayed.
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("AUTH_FAILED", (await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", "guess-" + i).WaitAsync(Bound)).Error);
        }

        Assert.DoesNotContain(AuthFailureThrottle.Delay, _time.CreatedDueTimes);
        Assert.Equal(0, _throttle.Throttled);

        Task<ProxyReply> sixth = ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", "guess-6");
        await WaitUntilAsync(() => _time.CreatedDueTimes.Contains(AuthFailureThrottle.Delay));
        Assert.Equal(1, _throttle.Throttled);

        // A right key from the same address meanwhile: answered with the clock still standing.
        Assert.Equal(200, (await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", ProxyFixture.Key).WaitAsync(Bound)).Status);
        Assert.False(sixth.IsCompleted, "the sixth wrong key was answered before its delay elapsed");

        _time.Advance(AuthFailureThrottle.Delay);
        ProxyReply slowed = await sixth.WaitAsync(Bound);
        Assert.Equal("AUTH_FAILED", slowed.Error);
        Assert.Equal("close", slowed.Header("Connection"));
    }

    /// <summary>Polls an engine-side condition, bounded so a missing event fails instead of hanging.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Bound, "the engine did not reach the awaited state");
            await Task.Delay(10);
        }
    }

    [Fact]
    public void Throttled_IsExportedAsAMetric()
    {
        var throttle = new AuthFailureThrottle(1, TimeProvider.System);
        using var metrics = new Engine.Diagnostics.EngineMetrics(() => false, () => 0);
        metrics.ObserveSecurity(() => throttle.Throttled, () => 7);
        var client = System.Net.IPAddress.Parse("192.0.2.9");
        throttle.RecordFailure(client);
        throttle.RecordFailure(client);
        throttle.RecordFailure(client);
        var seen = new Dictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == metrics.Meter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => seen[instrument.Name] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal(2, seen["engine.auth.throttled"]);
        Assert.Equal(7, seen["engine.access_log.dropped"]);
    }

    [Fact]
    public void RecordFailure_WindowResetsAfterAMinute()
    {
        var time = new ManualTimeProvider();
        var throttle = new AuthFailureThrottle(2, time);
        var client = System.Net.IPAddress.Parse("192.0.2.7");
        Assert.False(throttle.RecordFailure(client));
        Assert.False(throttle.RecordFailure(client));
        Assert.True(throttle.RecordFailure(client));
        Assert.False(throttle.RecordFailure(System.Net.IPAddress.Parse("192.0.2.8")));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(throttle.RecordFailure(client));
    }
}
