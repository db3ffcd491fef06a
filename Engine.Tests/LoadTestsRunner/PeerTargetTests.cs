using LoadTests;

namespace Engine.Tests.LoadTestsRunner;

/// <summary>Target selection and option parsing of <c>LoadTests peers</c>.</summary>
public sealed class PeerTargetTests
{
    [Fact]
    public void Select_NoList_AllTargetsEngineFirst()
    {
        List<PeerTarget> all = PeerTarget.Select(null, 19100);

        Assert.Equal(["engine", "haproxy-tcp", "haproxy-http", "squid", "tinyproxy", "proxy-chain", "trafficserver"], all.Select(t => t.Name));
        Assert.Equal(19100, all[0].Port);
    }

    [Fact]
    public void Select_HaproxyAlias_MeansBothModes_InTableOrder()
    {
        List<PeerTarget> chosen = PeerTarget.Select("squid, haproxy,engine", 19100);

        Assert.Equal(["engine", "haproxy-tcp", "haproxy-http", "squid"], chosen.Select(t => t.Name));
        Assert.Equal(PeerMode.Raw, chosen[1].Mode);
        Assert.False(chosen[2].Tunnels);
    }

    [Fact]
    public void Select_UnknownName_Throws() =>
        Assert.Throws<ArgumentException>(() => PeerTarget.Select("engine,nginx", 19100));

    [Fact]
    public void Parse_PeersFlag_IsTheScenario()
    {
        Assert.Equal("peers", LoadOptions.Parse(["--peers", "--reps", "1"]).Scenario);
        Assert.Equal("peers", LoadOptions.Parse(["peers"]).Scenario);
    }

    [Fact]
    public void PeerOptions_Parse_ReadsTheBriefsCheckLine()
    {
        PeerOptions o = PeerOptions.Parse(["peers", "--reps", "1", "--duration", "3", "--targets", "engine,haproxy-http,squid", "--tunnels-held", "200", "--start", "0"]);

        Assert.Equal(1, o.Reps);
        Assert.Equal(TimeSpan.FromSeconds(3), o.Duration);
        Assert.Equal(200, o.TunnelsHeld);
        Assert.False(o.Start);
        Assert.True(o.Pin);
        Assert.Equal(["engine", "haproxy-http", "squid"], o.Targets.Select(t => t.Name));
        Assert.Equal(TimeSpan.FromSeconds(6), o.Cold);
        Assert.Equal(6, o.ColdWindows);   // the first 6 s, 20 s of --warmup in 4 windows, the steady one
    }

    [Fact]
    public void PeerOptions_ColdZero_NoColdWindows() =>
        Assert.Equal(0, PeerOptions.Parse(["peers", "--cold", "0"]).ColdWindows);

    [Fact]
    public void FreshServer_Rebind_MovesTheOneLoopbackBind()
    {
        const string config = "frontend fwd_http\n  bind 127.0.0.1:18100\n  http-request set-dst req.hdr(host),field(1,:)\n";

        string moved = FreshServer.Rebind(config, 19102);

        Assert.Contains("  bind 127.0.0.1:19102\n", moved, StringComparison.Ordinal);
        Assert.DoesNotContain("18100", moved, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => FreshServer.Rebind("frontend f\n  bind :80\n", 19102));
    }

    [Theory]
    [InlineData("engine", true)]
    [InlineData("haproxy-http", true)]
    [InlineData("haproxy-tcp", false)]
    [InlineData("squid", false)]
    public void FreshServer_CanStart_EngineAndHaproxyHttp(string name, bool expected) =>
        Assert.Equal(expected, FreshServer.CanStart(PeerTarget.All(19100).Single(t => t.Name == name)));

    [Fact]
    public void Parse_LoneOptionWithoutValue_Throws() =>
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["get", "--proxy"]));

    [Fact]
    public void Parse_MetricsAndToken()
    {
        LoadOptions o = LoadOptions.Parse(["get", "--metrics", "http://127.0.0.1:19190/metrics", "--admin-token", "t0k", "--raw", "1"]);

        Assert.Equal(new Uri("http://127.0.0.1:19190/metrics"), o.Metrics);
        Assert.Equal("t0k", o.AdminToken);
        Assert.True(o.Raw);
    }
}
