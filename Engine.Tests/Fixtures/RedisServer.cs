using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures.Upstreams;

namespace Engine.Tests.Fixtures;

/// <summary>
/// A real <c>redis-server</c> (apt) in the foreground on a free loopback port: no persistence, a
/// fresh temp dir, ready once it answers PING. <see cref="StopAsync"/> kills it by PID (an outage)
/// and <see cref="RestartAsync"/> brings a fresh, empty one back on the same port.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);

    private readonly string _executable;
    private UpstreamProcess? _process;

    private RedisServer(string executable, int port)
    {
        _executable = executable;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    /// <summary>Why tests that need Redis skip (fail under CI), or null.</summary>
    public static string? UnavailableReason =>
        UpstreamProcess.FindOnPath("redis-server") is null ? "redis-server is not on PATH (apt-get install redis-server)" : null;

    public IPEndPoint EndPoint { get; }

    /// <summary>A StackExchange.Redis configuration string for this server.</summary>
    public string ConfigurationString => $"127.0.0.1:{EndPoint.Port}";

    public int? Pid => _process?.Pid;

    /// <summary>Starts redis-server; throws <see cref="Tools.Unavailable"/> naming the reason when it cannot run.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        string executable = UpstreamProcess.FindOnPath("redis-server") ?? throw Tools.Unavailable(UnavailableReason!);
        var server = new RedisServer(executable, UpstreamProcess.FreePort());
        await server.RestartAsync();
        return server;
    }

    /// <summary>Starts (again) on the same port, empty; throws <see cref="Tools.Unavailable"/> when it does not come up.</summary>
    public async Task RestartAsync()
    {
        if (_process is not null)
        {
            throw new InvalidOperationException("redis-server is still running; StopAsync first.");
        }

        string directory = UpstreamProcess.CreateDirectory("redis-").FullName;
        string port = EndPoint.Port.ToString(CultureInfo.InvariantCulture);
        (UpstreamProcess? process, string? failure) = await UpstreamProcess.StartAsync(
            _executable,
            ["--save", "", "--appendonly", "no", "--port", port, "--bind", "127.0.0.1", "--dir", directory, "--protected-mode", "no"],
            directory,
            EndPoint.Port,
            logFile: null,
            hermeticDns: false);
        if (process is null)
        {
            throw Tools.Unavailable(failure);
        }

        _process = process;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReadyTimeout)
        {
            if (await PingAsync())
            {
                return;
            }

            await Task.Delay(50);
        }

        string output = process.OutputTail();
        await StopAsync();
        throw Tools.Unavailable($"redis-server on {EndPoint} did not answer PING within {ReadyTimeout.TotalSeconds:0} s. Output: {output}");
    }

    /// <summary>Kills the server by its PID: clients see the connection drop, as in an outage.</summary>
    public async Task StopAsync()
    {
        UpstreamProcess? process = _process;
        _process = null;
        if (process is not null)
        {
            await process.DisposeAsync();
        }
    }

    /// <summary>One PING over a raw socket (no client library), bounded to a second.</summary>
    public async Task<bool> PingAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(EndPoint, timeout.Token);
            await socket.SendAsync("PING\r\n"u8.ToArray(), SocketFlags.None, timeout.Token);
            byte[] reply = new byte[16];
            int n = await socket.ReceiveAsync(reply, SocketFlags.None, timeout.Token);
            return Encoding.ASCII.GetString(reply, 0, n).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
