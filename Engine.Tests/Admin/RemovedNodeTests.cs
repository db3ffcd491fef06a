using System.Reflection;
using System.Text;
using Engine.Connection;
using Engine.Hosting;
using Engine.Tests.Fixtures.Upstreams;
using Engine.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Engine.Tests.Admin;

[Collection("Serial")]
public sealed class RemovedNodeTests
{
    // docs/admin.md: "DELETE /nodes/{id}: Removed: never chosen again (until a configuration reload brings it back)."
    // A PUT of another node (or any node-source file change) rebuilds the pool; the removed node stays removed
    // (it used to come back).
    [Fact]
    public async Task DeletedNode_StaysRemoved_WhenAnotherNodeIsPut()
    {
        int port = UpstreamProcess.FreePort();
        string json = $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{{port}}", "Protocol": "http" } ],
                "AccessLog": { "Enabled": false },
                "Packages": [ { "Id": "p", "Key": "p-key" } ],
                "Nodes": [ { "Id": "a", "Type": "direct", "Country": "us" }, { "Id": "b", "Type": "direct", "Country": "us" } ] } }
            """;
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        builder.Services.AddProxyEngine(builder.Configuration);
        using IHost host = builder.Build();
        await host.StartAsync();
        try
        {
            ProxyHostedService engine = host.Services.GetRequiredService<ProxyHostedService>();
            Func<NodePool> pool = () => ((ProxyServices)typeof(ProxyHostedService)
                .GetField("_services", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(engine)!).Routing.Pool;

            pool().FindAny("a")!.AdminState = NodeAdminState.Removed;   // what DELETE /nodes/a does
            Assert.Null(pool().Find("a"));

            Assert.True(engine.PutNode(new NodeOptions { Id = "c", Type = NodeType.Direct, Country = "fr", Origin = "admin" }));

            Assert.NotNull(pool().Find("c"));
            Assert.Equal(NodeAdminState.Removed, pool().FindAny("a")!.AdminState);
        }
        finally
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(stopping.Token);
        }
    }
}
