using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Engine.Hosting;

namespace Engine.Tests.Admin;

/// <summary>The daemon with <c>Engine.Admin</c> set: the admin listener comes up with the proxy and goes with it.</summary>
[Collection(Engine.Tests.Connection.SerialCollection.Name)]
public sealed class AdminHostingTests
{
    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Run_WithAdmin_ServesHealthReadinessAndMetrics_ThenStops()
    {
        int proxyPort = FreePort();
        int adminPort = FreePort();
        string path = Path.Combine(Path.GetTempPath(), $"engine-admin-test-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{{proxyPort}}", "Protocol": "http" } ],
                "Admin": { "Endpoint": "127.0.0.1:{{adminPort}}", "Token": "hosting-token" },
                "Limits": { "ShutdownDrain": "00:00:02" },
                "Packages": [ { "Id": "demo", "Key": "demo-key", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "local", "Type": "direct" } ] } }
            """);
        using var stop = new CancellationTokenSource();
        Task<int> running = EngineApp.RunAsync(["--config", path], TextWriter.Synchronized(new StringWriter()), new StringWriter(), stop.Token);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}/"), Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "hosting-token");
        try
        {
            HttpStatusCode? live = null;
            var clock = Stopwatch.StartNew();
            while (live is null && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                try
                {
                    using HttpResponseMessage response = await client.GetAsync("healthz");
                    live = response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100);
                }
            }

            Assert.Equal(HttpStatusCode.OK, live);
            using HttpResponseMessage ready = await client.GetAsync("readyz");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            using HttpResponseMessage nodes = await client.GetAsync("nodes");
            Assert.Contains("\"id\":\"local\"", await nodes.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            string metrics = await client.GetStringAsync("metrics");
            Assert.Contains("engine_nodes{state=\"available\"} ", metrics, StringComparison.Ordinal);   // other tests' "Engine" meters may add to it
            Assert.Contains("# TYPE engine_connections_open gauge", metrics, StringComparison.Ordinal);
        }
        finally
        {
            await stop.CancelAsync();
        }

        Assert.Equal(EngineApp.ExitOk, await running.WaitAsync(TimeSpan.FromSeconds(30)));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync("healthz"));
        File.Delete(path);
    }
}
