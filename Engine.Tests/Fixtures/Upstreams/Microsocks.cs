using System.Net;

namespace Engine.Tests.Fixtures.Upstreams;

/// <summary>microsocks on a free loopback port: a SOCKS5 upstream node, optionally with RFC 1929 credentials.</summary>
internal sealed class Microsocks : IAsyncDisposable
{

    private readonly UpstreamProcess _process;

    private Microsocks(UpstreamProcess process, string? user, string? password)
    {
        _process = process;
        User = user;
        Password = password;
    }

    /// <summary>Why tests that need microsocks skip (fail under CI): not on PATH.</summary>
    public static string? UnavailableReason =>
        UpstreamProcess.FindOnPath("microsocks") is null ? "microsocks is not on PATH (apt-get install microsocks)" : null;

    public IPEndPoint EndPoint => _process.EndPoint;

    public string? User { get; }

    public string? Password { get; }

    public int Pid => _process.Pid;

    /// <summary>Starts microsocks; with <paramref name="user"/> it requires username/password. Throws <see cref="Tools.Unavailable"/> (a skip, a failure under CI) when it cannot run.</summary>
    public static async Task<Microsocks> StartAsync(string? user = null, string? password = null)
    {
        string executable = UpstreamProcess.FindOnPath("microsocks") ?? throw Tools.Unavailable(UnavailableReason!);
        int port = UpstreamProcess.FreePort();
        string directory = UpstreamProcess.CreateDirectory("microsocks-").FullName;
        List<string> arguments = ["-i", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        if (user is not null)
        {
            arguments.AddRange(["-u", user, "-P", password ?? string.Empty]);
        }

        // microsocks has no daemon mode: the PID is the server. It logs to stderr, captured by UpstreamProcess.
        (UpstreamProcess? process, string? failure) = await UpstreamProcess.StartAsync(
            executable, arguments, directory, port, logFile: null, hermeticDns: true);
        if (process is null)
        {
            throw Tools.Unavailable(failure);
        }

        return new Microsocks(process, user, password);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
