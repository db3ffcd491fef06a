using System.Diagnostics.Metrics;
using Engine.Diagnostics;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;

namespace Engine.Tests.Diagnostics;

public sealed class UpstreamTimingMetricsTests
{
    [Fact]
    public async Task ForwardedRequest_RecordsConnectLatencyAndTimeToFirstByte()
    {
        await using var origin = new TestOrigin();
        using var metrics = new EngineMetrics(() => false, () => 0);
        var seen = new Dictionary<string, List<double>>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == metrics.Meter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            lock (seen)
            {
                (seen.TryGetValue(instrument.Name, out List<double>? values) ? values : seen[instrument.Name] = []).Add(value);
            }
        });
        listener.Start();
        await using var proxy = new ProxyFixture(o =>
        {
            o.Metrics = metrics;
            o.PoolUpstream = false;
        });

        Assert.Equal(200, (await ProxyReply.GetAsync(proxy.EndPoint, origin.Port, "country-us", ProxyFixture.Key)).Status);
        Assert.Equal(200, (await ProxyReply.ConnectAsync(proxy.EndPoint, origin.Port, "country-us", ProxyFixture.Key)).Status);
        await proxy.LogLinesAsync(2);

        lock (seen)
        {
            Assert.Equal(2, seen["engine.upstream.connect.duration"].Count);   // the GET's and the tunnel's connects
            Assert.Single(seen["engine.upstream.first_byte.duration"]);          // tunnels have no response to wait for
            Assert.All(seen["engine.upstream.connect.duration"], v => Assert.InRange(v, 0, 5));
        }
    }
}
