using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;

namespace Engine.Tests.Robustness;

/// <summary>
/// A real engine process under a low descriptor limit (<c>prlimit --nofile</c>), flooded with more
/// connections than it has descriptors. Running a .NET process out of descriptors can kill it
/// ("Out of memory." when the runtime next needs a thread: about half the runs before the cap), so
/// the engine caps its connections by the limit at start and answers the rest 503 OVERLOADED; it
/// must stay up through the flood and serve again once the flood is gone.
/// </summary>
[Collection(Engine.Tests.Connection.SerialCollection.Name)]
public sealed class DescriptorExhaustionTests : IAsyncDisposable
{
    private const int FileLimit = 256;
    private readonly TestOrigin _origin = new();

    private static string Config => """
        { "Engine": {
            "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
            "Security": { "AllowPrivateTargets": true },
            "AccessLog": { "Enabled": false },
            "Packages": [ { "Id": "a", "Key": "a-key", "DefaultRules": "country-any" } ],
            "Nodes": [ { "Id": "one", "Type": "direct", "Country": "us" } ] } }
        """;

    [SkippableFact]
    public async Task Flood_PastTheDescriptorLimit_CappedWith503_StaysUp_ServesAfter()
    {
        await using EngineProcess engine = await EngineProcess.StartAsync(Config, FileLimit);
        Assert.Equal(200, (await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-us", "a-key")).Status);
        Assert.Contains("carries", engine.Output, StringComparison.Ordinal);   // the cap is logged at start

        var flood = new List<Socket>();
        int overloaded = 0;
        try
        {
            for (int i = 0; i < FileLimit + 100; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                flood.Add(socket);
                await socket.ConnectAsync(engine.EndPoint).WaitAsync(TimeSpan.FromSeconds(10));
            }

            // Connections past the cap were answered at once, without a request.
            byte[] buffer = new byte[512];
            foreach (Socket socket in flood[^50..])
            {
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    int n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, wait.Token);
                    overloaded += Encoding.ASCII.GetString(buffer, 0, n).StartsWith("HTTP/1.1 503", StringComparison.Ordinal) ? 1 : 0;
                }
                catch (OperationCanceledException)
                {
                    // admitted (waiting for its request) rather than refused
                }
            }

            Assert.True(IsRunning(engine.Pid), $"the engine died under the flood; output:\n{engine.Output}");
        }
        finally
        {
            foreach (Socket socket in flood)
            {
                socket.Dispose();
            }
        }

        Assert.True(overloaded > 0, "no flood connection was refused with 503 OVERLOADED");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        ProxyReply? reply = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && reply?.Status != 200)
        {
            try
            {
                reply = await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-us", "a-key").WaitAsync(TimeSpan.FromSeconds(3));
            }
            catch (Exception e) when (e is TimeoutException or SocketException or IOException)
            {
                // the closed flood is still being drained
            }
        }

        Assert.True(reply?.Status == 200, $"no 200 through the engine within 20 s after the flood closed; output:\n{engine.Output}");
        Assert.True(IsRunning(engine.Pid));
    }

    private static bool IsRunning(int pid) => Directory.Exists($"/proc/{pid}");

    public async ValueTask DisposeAsync() => await _origin.DisposeAsync();
}
