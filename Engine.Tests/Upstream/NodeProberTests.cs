using Engine.Hosting;
using Engine.Targets;
using Engine.Tests.Fixtures;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

public sealed class NodeProberTests
{
    [Fact]
    public async Task ProbeOnce_BringsBackOnlyEjectedNodesThatWorkAgain()
    {
        await using var origin = new TestOrigin();
        await using var fake = new FakeNode();
        var policy = new NodeHealthPolicy(TimeProvider.System, 1, TimeSpan.FromHours(1), TimeSpan.FromHours(1), 3, TimeSpan.FromMinutes(1));
        var pool = new NodePool(
            [
                new NodeOptions { Id = "up", Type = NodeType.Http, Address = fake.Address },
                new NodeOptions { Id = "healthy", Type = NodeType.Http, Address = fake.Address },
            ],
            policy);
        var targets = new TargetPolicy(allowPrivateTargets: true, null, null);
        var connector = new NodeConnector(pool, new DnsCache(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2)), targets, TimeSpan.FromSeconds(2));
        using var prober = new NodeProber(pool, connector, new Uri($"http://127.0.0.1:{origin.Port}/"), TimeSpan.FromHours(1), TimeProvider.System);

        Node up = pool.Find("up")!;
        up.RecordFailure(policy, TimeProvider.System.GetTimestamp());
        Assert.False(up.IsAvailable(TimeProvider.System.GetTimestamp()));

        fake.Mode = FakeNodeMode.Reset;
        Assert.Equal(0, await prober.ProbeOnceAsync());
        Assert.False(up.IsAvailable(TimeProvider.System.GetTimestamp()));
        Assert.Equal(1, fake.Connections);   // only the ejected node was probed

        fake.Mode = FakeNodeMode.Ok;
        Assert.Equal(1, await prober.ProbeOnceAsync());
        Assert.True(up.IsAvailable(TimeProvider.System.GetTimestamp()));
        Assert.Equal(0, await prober.ProbeOnceAsync());
    }
}
