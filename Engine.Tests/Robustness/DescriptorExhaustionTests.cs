using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;

namespace Engine.Tests.Robustness;

/// <summary>
/// A real engine process under a low descriptor limit (<c>prlimit --nofile</c>), flooded with more
/// connections than it has descriptors. accept(2) fails with EMFILE while they are open; when they
/// close, the engine must take and serve new connections again. The accept loop used to end at the
/// first EMFILE, leaving the listener deaf until a restart.
/// </summary>
[Collection(Engine.Tests.Connection.SerialCollection.Name)]
public sealed class DescriptorExhaustionTests : IAsyncDisposable
{
    private const int FileLimit = 256;
    private readonly TestOrigin _origin = new();

    private const string AdminToken = "descriptor-test-token-0123456789";
    private readonly int _adminPort = Engine.Tests.Fixtures.Upstreams.UpstreamProcess.FreePort();

    private string Config => $$"""
        { "Engine": {
            "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
            "Admin": { "Endpoint": "127.0.0.1:{{_adminPort}}", "Token": "{{AdminToken}}" },
            "Security": { "AllowPrivateTargets": true },
            "AccessLog": { "Enabled": false },
            "Packages": [ { "Id": "a", "Key": "a-key", "DefaultRules": "country-any" } ],
            "Nodes": [ { "Id": "one", "Type": "direct", "Country": "us" } ] } }
        """;

    [SkippableFact]
    public async Task Accept_OutOfDescriptors_PausesAndServesAgainOnceConnectionsClose()
    {
        await using EngineProcess engine = await EngineProcess.StartAsync(Config, FileLimit);
        Assert.Equal(200, (await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-us", "a-key")).Status);

        // More idle connections than the engine has descriptors left: the kernel completes them
        // into the listen backlog, the engine's accepts start failing with EMFILE.
        var flood = new List<Socket>();
        try
        {
            for (int i = 0; i < FileLimit + 100; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                flood.Add(socket);
                await socket.ConnectAsync(engine.EndPoint).WaitAsync(TimeSpan.FromSeconds(10));
            }

            // Let the engine run into the limit (asserted below through the pause counter).
            await WaitForDescriptorLimitAsync(engine.Pid);
        }
        finally
        {
            foreach (Socket socket in flood)
            {
                socket.Dispose();
            }
        }

        // The flood is gone: its connections close, descriptors come back, the engine accepts the
        // rest of the backlog (now closed by their clients) and then a new client is served.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ProxyReply? reply = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            try
            {
                reply = await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-us", "a-key").WaitAsync(TimeSpan.FromSeconds(3));
                if (reply.Status == 200)
                {
                    break;
                }
            }
            catch (Exception e) when (e is TimeoutException or SocketException or IOException)
            {
                // still catching up with the backlog
            }
        }

        Assert.True(reply?.Status == 200, $"no 200 through the engine within 20 s after the flood closed; engine output:\n{engine.Output}");

        // Operators see it: every pause counted.
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_adminPort}/"), Timeout = TimeSpan.FromSeconds(10) };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
        string metrics = await admin.GetStringAsync("metrics");
        string? line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("engine_accept_paused_total ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no engine_accept_paused_total in the scrape:\n{metrics}");
        Assert.True(double.Parse(line["engine_accept_paused_total ".Length..], System.Globalization.CultureInfo.InvariantCulture) > 0,
            $"{line}: the flood never ran the engine out of descriptors; engine output:\n{engine.Output}");
    }

    private static async Task WaitForDescriptorLimitAsync(int pid)
    {
        for (int i = 0; i < 100 && Directory.GetFiles($"/proc/{pid}/fd").Length < FileLimit - 8; i++)
        {
            await Task.Delay(100);
        }

        await Task.Delay(200);   // a few failed accepts and pauses at the limit
    }

    public async ValueTask DisposeAsync() => await _origin.DisposeAsync();
}
