using System.Net;
using System.Net.Http.Headers;
using Engine.Admin;
using Engine.Diagnostics;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Upstream;

namespace Engine.Tests.Admin;

/// <summary>
/// A running proxy (<see cref="ProxyFixture"/>) with its own <see cref="EngineMetrics"/>, an
/// <see cref="AdminServer"/> on a loopback port beside it that exports that meter alone (other
/// tests' meters run in the same process), a test origin, and clients for both.
/// </summary>
internal sealed class AdminHarness : IAsyncDisposable
{
    public const string Token = "test-admin-token-0123456789";

    public AdminHarness(Action<ProxyFixtureOptions>? configure = null)
    {
        Metrics = new EngineMetrics(() => Proxy?.State.IsDegraded ?? false, () => 0);
        Proxy = new ProxyFixture(options =>
        {
            options.Metrics = Metrics;
            options.Nodes =
            [
                new NodeOptions { Id = "dc-us-1", Type = NodeType.Direct, Country = "us", Network = "dc", City = "nyc" },
                new NodeOptions { Id = "dc-de-1", Type = NodeType.Direct, Country = "de", Network = "dc" },
                new NodeOptions { Id = "res-fr-1", Type = NodeType.Direct, Country = "fr", Network = "res", Asn = 3215 },
            ];
            configure?.Invoke(options);
        });
        Metrics.Observe(() => Proxy.Server.OpenConnections, () => Proxy.Routing.Pool);
        Metrics.ObserveAcceptPauses(() => Proxy.Server.AcceptPauses);   // as ProxyHostedService wires it
        Admin = new AdminServer(() => Proxy.Services, Token, meters: meter => ReferenceEquals(meter, Metrics.Meter));
        Admin.Start(new IPEndPoint(IPAddress.Loopback, 0));
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Admin.EndPoint.Port}/"), Timeout = TimeSpan.FromSeconds(15) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Anonymous = new HttpClient { BaseAddress = Client.BaseAddress, Timeout = TimeSpan.FromSeconds(15) };
    }

    public EngineMetrics Metrics { get; }

    public ProxyFixture Proxy { get; }

    public AdminServer Admin { get; }

    public TestOrigin Origin { get; } = new();

    /// <summary>Sends the right bearer token.</summary>
    public HttpClient Client { get; }

    /// <summary>Sends no token.</summary>
    public HttpClient Anonymous { get; }

    public Uri BaseAddress => Client.BaseAddress!;

    /// <summary>A client of the proxy with these rules as its username.</summary>
    public HttpClient ProxyClient(string user = "country-us", string key = ProxyFixture.Key) =>
        new(new SocketsHttpHandler { Proxy = new WebProxy(Proxy.Uri) { Credentials = new NetworkCredential(user, key) }, UseProxy = true })
        {
            Timeout = TimeSpan.FromSeconds(15),
        };

    public string OriginUrl(string path) => $"http://127.0.0.1:{Origin.Port}{path}";

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Anonymous.Dispose();
        await Admin.DisposeAsync();
        await Proxy.DisposeAsync();
        await Origin.DisposeAsync();
        Metrics.Dispose();
    }
}
