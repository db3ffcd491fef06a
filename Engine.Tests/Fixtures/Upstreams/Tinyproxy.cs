using System.Net;

namespace Engine.Tests.Fixtures.Upstreams;

/// <summary>
/// tinyproxy (1.11) in the foreground on a free loopback port: an HTTP upstream node that tunnels
/// with CONNECT, optionally behind Basic credentials.
/// </summary>
internal sealed class Tinyproxy : IAsyncDisposable
{

    private readonly UpstreamProcess _process;

    private Tinyproxy(UpstreamProcess process, string? user, string? password)
    {
        _process = process;
        User = user;
        Password = password;
    }

    /// <summary>Why tests that need tinyproxy skip (fail under CI): not on PATH.</summary>
    public static string? UnavailableReason =>
        UpstreamProcess.FindOnPath("tinyproxy") is null ? "tinyproxy is not on PATH (apt-get install tinyproxy)" : null;

    public IPEndPoint EndPoint => _process.EndPoint;

    public string? User { get; }

    public string? Password { get; }

    public int Pid => _process.Pid;

    /// <summary>Starts tinyproxy; with <paramref name="user"/> it requires Basic credentials. Throws <see cref="Tools.Unavailable"/> (a skip, a failure under CI) when it cannot run.</summary>
    public static async Task<Tinyproxy> StartAsync(string? user = null, string? password = null)
    {
        string executable = UpstreamProcess.FindOnPath("tinyproxy") ?? throw Tools.Unavailable(UnavailableReason!);
        int port = UpstreamProcess.FreePort();
        string directory = UpstreamProcess.CreateDirectory("tinyproxy-").FullName;
        string log = Path.Combine(directory, "tinyproxy.log");
        // No ConnectPort line: tinyproxy then allows CONNECT to every port (tinyproxy.conf(5)), which
        // the tests need for their ephemeral target ports.
        string config = $"""
            Port {port}
            Listen 127.0.0.1
            Timeout 30
            MaxClients 64
            Allow 127.0.0.1
            LogLevel Info
            LogFile "{log}"
            PidFile "{Path.Combine(directory, "tinyproxy.pid")}"
            {(user is null ? string.Empty : $"BasicAuth {user} {password}")}

            """;
        string configPath = Path.Combine(directory, "tinyproxy.conf");
        await File.WriteAllTextAsync(configPath, config);

        // -d: stay in the foreground, so the PID we hold is the server.
        (UpstreamProcess? process, string? failure) = await UpstreamProcess.StartAsync(
            executable, ["-d", "-c", configPath], directory, port, log, hermeticDns: true);
        if (process is null)
        {
            throw Tools.Unavailable(failure);
        }

        return new Tinyproxy(process, user, password);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
