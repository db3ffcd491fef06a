using System.Diagnostics;
using Engine.Auth;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;

namespace Engine.Tests.Robustness;

public sealed class BruteForceTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly AuthFailureThrottle _throttle = new(5, TimeProvider.System);
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o => o.AuthThrottle = _throttle);
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
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("AUTH_FAILED", (await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", "guess-" + i)).Error);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"first five took {clock.Elapsed}");
        Assert.Equal(0, _throttle.Throttled);

        clock.Restart();
        ProxyReply slowed = await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", "guess-6");
        Assert.Equal("AUTH_FAILED", slowed.Error);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"sixth answered after {clock.Elapsed}");
        Assert.Equal("close", slowed.Header("Connection"));
        Assert.Equal(1, _throttle.Throttled);

        clock.Restart();
        Assert.Equal(200, (await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", ProxyFixture.Key)).Status);
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(900), $"a right key took {clock.Elapsed}");
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
