using System.Diagnostics.Metrics;
using System.Text;
using Engine.Diagnostics;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Engine.Tests.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Engine.Tests.Hosting;

/// <summary>
/// The start-up warm-up (issue 18, full speed from the first second): before the listeners open, a
/// JIT-compiled engine serves loopback requests and tunnels to a throwaway copy of its data path.
/// </summary>
public sealed class WarmUpTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task RunAsync_AnswersEveryRequestAndTunnel_ThroughBothNodeKinds_OnItsOwnMeter()
    {
        long requests = 0, tunnels = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EngineMetrics.MeterName + ".WarmUp" && instrument.Name is "engine.requests" or "engine.tunnels")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "engine.requests")
            {
                Interlocked.Add(ref requests, value);
            }
            else
            {
                Interlocked.Add(ref tunnels, value);
            }
        });
        listener.Start();

        WarmUpResult result = await WarmUp.RunAsync(new EngineOptions(), CancellationToken.None);

        Assert.Equal(WarmUpOutcome.Ran, result.Outcome);
        Assert.True(result.Complete, result.ToString());
        Assert.Equal(WarmUp.Connections * WarmUp.RequestsPerConnection, result.Requests);
        Assert.Equal(WarmUp.Tunnels, result.Tunnels);
        Assert.Equal(0, result.SocksTunnels);   // no listener speaks SOCKS5
        Assert.Equal(0, result.TlsRequests);    // nor TLS
        // Half of each went through the http node: the origin saw those as an upstream proxy would
        // (absolute-form GETs, CONNECTs); the rest came direct.
        Assert.Equal((WarmUp.Connections * WarmUp.RequestsPerConnection / 2) + (WarmUp.Tunnels / 2), result.ThroughHttpNode);
        Assert.True(result.MethodsCompiled > 0);
        // Counted on the warm-up's own meter (other tests' warm-ups may add to it, never take away),
        // so nothing listening to the engine's "Engine" meter counts this traffic.
        Assert.True(Interlocked.Read(ref requests) >= result.Requests, $"requests counted {requests}");
        Assert.True(Interlocked.Read(ref tunnels) >= result.Tunnels, $"tunnels counted {tunnels}");
    }

    [Fact]
    public async Task RunAsync_WithASocks5Listener_WarmsSocks5Too()
    {
        var options = new EngineOptions
        {
            Listeners = [new ListenerOptions { Endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1080), Protocol = ListenerProtocol.Socks5 }],
        };

        WarmUpResult result = await WarmUp.RunAsync(options, CancellationToken.None);

        Assert.True(result.Complete, result.ToString());
        Assert.Equal(WarmUp.Tunnels, result.SocksTunnels);
        // Half of the SOCKS5 tunnels too went through the http node, as a CONNECT to the origin.
        Assert.Equal((WarmUp.Connections * WarmUp.RequestsPerConnection / 2) + WarmUp.Tunnels, result.ThroughHttpNode);
        Assert.False(WarmUp.ServesSocks5(new EngineOptions()));
    }

    [Fact]
    public async Task RunAsync_WithAnHttpsListener_WarmsTlsWithItsCertificate()
    {
        DirectoryInfo directory = Directory.CreateTempSubdirectory("engine-warmup-tls-");
        try
        {
            using System.Security.Cryptography.X509Certificates.X509Certificate2 certificate = TestCertificates.Create();
            string pfx = TestCertificates.WritePfx(certificate, directory.FullName, "warm-pass");
            var options = new EngineOptions
            {
                Listeners =
                [
                    new ListenerOptions { Endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 8443), Protocol = ListenerProtocol.Https, Certificate = pfx, CertificatePassword = "warm-pass" },
                ],
            };

            WarmUpResult result = await WarmUp.RunAsync(options, CancellationToken.None);

            Assert.True(result.Complete, result.ToString());
            Assert.Equal(WarmUp.TlsConnections * WarmUp.RequestsPerTlsConnection, result.TlsRequests);
            // Half of the GETs over TLS too went through the http node.
            Assert.Equal((WarmUp.Connections * WarmUp.RequestsPerConnection / 2) + (WarmUp.Tunnels / 2) + (WarmUp.TlsConnections * WarmUp.RequestsPerTlsConnection / 2), result.ThroughHttpNode);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task RunAsync_Off_IsSkipped_WithTheReason()
    {
        WarmUpResult result = await WarmUp.RunAsync(new EngineOptions { WarmUp = false }, CancellationToken.None);

        Assert.Equal(WarmUpOutcome.Skipped, result.Outcome);
        Assert.Contains("Engine:WarmUp", result.Reason, StringComparison.Ordinal);
        Assert.Equal(0, result.Requests);
    }

    [Fact]
    public async Task RunAsync_Cancelled_Fails_WithoutThrowing()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        WarmUpResult result = await WarmUp.RunAsync(new EngineOptions(), cancelled.Token);

        Assert.Equal(WarmUpOutcome.Failed, result.Outcome);
        Assert.False(string.IsNullOrEmpty(result.Reason));
        Assert.False(result.Complete);
    }

    [Fact]
    public void Options_ReachOnlyLoopbackPorts_TheEnginesOwnSettingsStayOut()
    {
        var configured = new EngineOptions
        {
            Admin = new AdminOptions { Endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 9), Token = "admin-token-0123456789abcdef" },
            Packages = [new PackageOptions { Id = "real", Key = "real-key" }],
            Nodes = [new Engine.Upstream.NodeOptions { Id = "real-node", Type = Engine.Upstream.NodeType.Http, Address = "192.0.2.1:3128" }],
            State = new Engine.State.StateOptions { Store = Engine.State.StateStore.Redis, Redis = "127.0.0.1:6379" },
            Security = new SecurityOptions { BlockedDomains = ["example.com"], AuthFailuresPerMinute = 7 },
        };

        EngineOptions warm = WarmUp.Options(configured, originPort: 40000, key: "k");

        Assert.Null(warm.Admin);
        Assert.Empty(warm.Listeners);
        Assert.Equal("warm-up", Assert.Single(warm.Packages).Id);
        Assert.All(warm.Nodes, n => Assert.StartsWith("warm-up-", n.Id, StringComparison.Ordinal));
        Assert.Equal("127.0.0.1:40000", Assert.Single(warm.Nodes, n => n.Type == Engine.Upstream.NodeType.Http).Address);
        Assert.Equal(Engine.State.StateStore.Memory, warm.State.Store);
        Assert.Equal([40000], warm.Security.AllowedConnectPorts);
        Assert.Equal([new Engine.Targets.PortRange(40000, 40000)], warm.Security.AllowedHttpPorts);
        Assert.Equal(7, warm.Security.AuthFailuresPerMinute);
    }

    [Fact]
    public async Task HostedEngine_WarmsUpBeforeItListens_AndStillServes()
    {
        int port = UpstreamProcess.FreePort();
        string json = $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{{port}}", "Protocol": "http" } ],
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [ {{_origin.Port}} ] },
                "AccessLog": { "Enabled": false },
                "Packages": [ { "Id": "p", "Key": "p-key" } ],
                "Nodes": [ { "Id": "n", "Type": "direct", "Country": "us" } ] } }
            """;
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        builder.Services.AddProxyEngine(builder.Configuration);
        using IHost host = builder.Build();
        await host.StartAsync();
        try
        {
            WarmUpResult? warmed = host.Services.GetRequiredService<ProxyHostedService>().WarmedUp;
            Assert.NotNull(warmed);
            Assert.True(warmed.Complete, warmed.ToString());
            ProxyReply reply = await ProxyReply.GetAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port), _origin.Port, "country-us", "p-key");
            Assert.True(reply.Status == 200, $"{reply.Status} {reply.Error}");
            Assert.Equal("n", reply.Node);
        }
        finally
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(stopping.Token);
        }
    }
}
