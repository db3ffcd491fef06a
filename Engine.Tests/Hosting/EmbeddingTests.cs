using System.Net;
using System.Text;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Engine.Tests.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Engine.Tests.Hosting;

/// <summary>
/// <c>AddProxyEngine(IConfiguration)</c>, the public embedding entry point (docs/deployment.md): a host
/// of someone else's, with its own services and configuration, runs the engine from its <c>Engine</c>
/// section, serves through it and stops it with the host.
/// </summary>
public sealed class EmbeddingTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    private static IConfiguration Configuration(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    [Fact]
    public async Task HostThatEmbedsTheEngine_ServesThroughIt_AndStopsIt()
    {
        int port = UpstreamProcess.FreePort();
        string json = $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{{port}}", "Protocol": "http" } ],
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [ {{_origin.Port}} ] },
                "AccessLog": { "Enabled": false },
                "Packages": [ { "Id": "emb", "Key": "emb-key", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "embedded-node", "Type": "direct", "Country": "us" } ] },
              "HostOwn": { "Greeting": "hello" } }
            """;
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddConfiguration(Configuration(json));
        builder.Services.AddSingleton(new HostOwnService(builder.Configuration["HostOwn:Greeting"]!));
        builder.Services.AddProxyEngine(builder.Configuration);
        using IHost host = builder.Build();
        await host.StartAsync();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        try
        {
            Assert.Equal("hello", host.Services.GetRequiredService<HostOwnService>().Greeting);
            ProxyReply forwarded = await ProxyReply.GetAsync(endPoint, _origin.Port, "country-us", "emb-key");
            Assert.True(forwarded.Status == 200, $"{forwarded.Status} {forwarded.Error}: {forwarded.Body}");
            Assert.Equal("embedded-node", forwarded.Node);
            ProxyReply tunnelled = await ProxyReply.ConnectAsync(endPoint, _origin.Port, "country-us", "emb-key");
            Assert.True(tunnelled.Status == 200, $"{tunnelled.Status} {tunnelled.Error}: {tunnelled.Body}");
            Assert.Equal("AUTH_FAILED", (await ProxyReply.GetAsync(endPoint, _origin.Port, "country-us", "nope")).Error);
        }
        finally
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(stopping.Token);
        }

        // Stopped with the host: the listener is gone.
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => probe.ConnectAsync(endPoint));
    }

    [Fact]
    public void InvalidEngineSection_Throws_NamingEveryProblemWithItsPath()
    {
        IConfiguration configuration = Configuration("""
            { "Engine": { "Listeners": [ { "Endpoint": "nowhere", "Protocol": "http" } ], "Limits": { "MaxConnections": 0 } } }
            """);
        var exception = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddProxyEngine(configuration));
        Assert.Contains("Engine.Listeners[0].Endpoint", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Engine.Limits.MaxConnections", exception.Message, StringComparison.Ordinal);
    }

    private sealed record HostOwnService(string Greeting);
}
