using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;

namespace Engine.Tests.Hosting;

/// <summary>The config file is watched (and SIGHUP re-reads it): changes apply without dropping connections; invalid files are refused.</summary>
[Collection("Serial")]
public sealed class ConfigReloadTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("engine-reload-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static string Config(int port, string packages, string nodes, string extra = "") => $$"""
        { "Engine": {
            "Listeners": [ { "Endpoint": "127.0.0.1:{{port}}", "Protocol": "http" } ],
            "Limits": { "ShutdownDrain": "00:00:02" },
            "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [] {{extra}} },
            "Packages": [ {{packages}} ],
            "Nodes": [ {{nodes}} ] } }
        """;

    private const string PackageA = """{ "Id": "a", "Key": "a-key", "DefaultRules": "country-any" }""";
    private const string PackageB = """{ "Id": "b", "Key": "b-key", "DefaultRules": "country-any" }""";
    private const string NodeOne = """{ "Id": "one", "Type": "direct", "Country": "us", "City": "boston" }""";
    private const string NodeTwo = """{ "Id": "two", "Type": "direct", "Country": "us" }""";

    private static async Task Eventually(Func<Task<bool>> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"not within {limit}");
    }

    [Fact]
    public async Task FileChange_AddsPackages_RemovesNodes_KeepsOpenTunnels_RefusesInvalidFiles()
    {
        int port = Engine.Tests.Fixtures.Upstreams.UpstreamProcess.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        string path = Path.Combine(_directory, "engine.json");
        await File.WriteAllTextAsync(path, Config(port, PackageA, $"{NodeOne}, {NodeTwo}"));
        using var stop = new CancellationTokenSource();
        Task<int> running = EngineApp.RunAsync(["--config", path], new StringWriter(), new StringWriter(), stop.Token);
        try
        {
            await Eventually(async () =>
            {
                try
                {
                    return (await ProxyReply.GetAsync(endPoint, _origin.Port, "country-us", "a-key")).Status == 200;
                }
                catch (SocketException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(20));
            Assert.Equal("AUTH_FAILED", (await ProxyReply.GetAsync(endPoint, _origin.Port, "country-us", "b-key")).Error);

            // A tunnel through node one, held open across the reload that removes node one.
            using Socket tunnel = await OpenTunnelAsync(endPoint, "country-us-city-boston:a-key");

            await File.WriteAllTextAsync(path, Config(port, $"{PackageA}, {PackageB}", NodeTwo, """, "BlockedDomains": [ "blocked.example" ]"""));
            await Eventually(async () => (await ProxyReply.GetAsync(endPoint, _origin.Port, "country-us", "b-key")).Status == 200, TimeSpan.FromSeconds(10));

            Assert.Equal("Hello, world!", await GetThroughAsync(tunnel));
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal("two", (await ProxyReply.ConnectAsync(endPoint, _origin.Port, "country-us", "a-key")).Node);
            }

            Assert.Equal("DISALLOWED", (await ProxyReply.ConnectAsync(endPoint, 443, "country-us", "a-key", host: "blocked.example")).Error);

            // An invalid file is refused: the running configuration stays. Waited for on the
            // engine's reload counter (this collection runs alone, so it is this engine's).
            using (ReloadRecorder reloads = ReloadRecorder.Start())
            {
                await File.WriteAllTextAsync(path, """{ "Engine": { "Listeners": [ { "Endpoint": "nowhere" } ] } }""");
                await reloads.Refused.WaitAsync(TimeSpan.FromSeconds(10));
            }

            Assert.Equal(200, (await ProxyReply.GetAsync(endPoint, _origin.Port, "country-us", "b-key")).Status);
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(EngineApp.ExitOk, await running.WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    [SkippableFact]
    public async Task Sighup_ReloadsTheFile_AndTheDaemonKeepsRunning()
    {
        await using EngineProcess engine = await EngineProcess.StartAsync(Config(0, PackageA, NodeOne).Replace("127.0.0.1:0", "127.0.0.1:{PORT}", StringComparison.Ordinal));
        Assert.Equal("AUTH_FAILED", (await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-us", "b-key")).Error);
        string config = await File.ReadAllTextAsync(engine.ConfigPath);
        await File.WriteAllTextAsync(engine.ConfigPath, config.Replace(PackageA, $"{PackageA}, {PackageB}", StringComparison.Ordinal));
        using (Process kill = Process.Start("kill", ["-HUP", engine.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await Eventually(async () => (await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-us", "b-key")).Status == 200, TimeSpan.FromSeconds(10));
        await Eventually(() => Task.FromResult(engine.Output.Contains("(SIGHUP)", StringComparison.Ordinal)), TimeSpan.FromSeconds(5));
    }

    /// <summary>Completes <see cref="Refused"/> at the first <c>engine.reloads{result="failed"}</c> measurement in this process.</summary>
    private sealed class ReloadRecorder : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private readonly TaskCompletionSource _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ReloadRecorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == Engine.Diagnostics.EngineMetrics.MeterName && instrument.Name == "engine.reloads")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                foreach (KeyValuePair<string, object?> tag in tags)
                {
                    if (tag.Key == "result" && Equals(tag.Value, "failed"))
                    {
                        _refused.TrySetResult();
                    }
                }
            });
        }

        public Task Refused => _refused.Task;

        public static ReloadRecorder Start()
        {
            var recorder = new ReloadRecorder();
            recorder._listener.Start();
            return recorder;
        }

        public void Dispose() => _listener.Dispose();
    }

    private async Task<Socket> OpenTunnelAsync(IPEndPoint proxy, string credentials)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        string auth = Convert.ToBase64String(Encoding.ASCII.GetBytes(credentials));
        await socket.SendAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"), SocketFlags.None);
        byte[] buffer = new byte[1024];
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None);
        string head = Encoding.ASCII.GetString(buffer, 0, n);
        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Node: one", head, StringComparison.Ordinal);
        return socket;
    }

    private async Task<string> GetThroughAsync(Socket tunnel)
    {
        await tunnel.SendAsync(Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\nConnection: close\r\n\r\n"), SocketFlags.None);
        var all = new MemoryStream();
        byte[] buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n;
        while ((n = await tunnel.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        string response = Encoding.ASCII.GetString(all.ToArray());
        return response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
    }
}
