using System.Net;

namespace Engine.Tests.Fixtures.Upstreams;

/// <summary>
/// Dante's SOCKS server (danted on Debian, sockd upstream) on a free loopback port, no
/// authentication. Not daemonised (no -D); it still forks its negotiate/request/io children, which
/// dispose kills with it. Username authentication is not offered: dante checks it against system
/// accounts (passwd/PAM), and a test must not create users on the machine.
/// </summary>
internal sealed class Dante : IAsyncDisposable
{

    private readonly UpstreamProcess _process;

    private Dante(UpstreamProcess process) => _process = process;

    private static string? Executable => UpstreamProcess.FindOnPath("danted") ?? UpstreamProcess.FindOnPath("sockd");

    /// <summary>Why tests that need dante skip (fail under CI): not on PATH.</summary>
    public static string? UnavailableReason =>
        Executable is null ? "danted (or sockd) is not on PATH (apt-get install dante-server)" : null;

    public IPEndPoint EndPoint => _process.EndPoint;

    public int Pid => _process.Pid;

    /// <summary>Starts dante. Throws <see cref="Tools.Unavailable"/> (a skip, a failure under CI) when it cannot run.</summary>
    public static async Task<Dante> StartAsync()
    {
        string executable = Executable ?? throw Tools.Unavailable(UnavailableReason!);
        int port = UpstreamProcess.FreePort();
        string directory = UpstreamProcess.CreateDirectory("dante-").FullName;
        string logs = UpstreamProcess.CreateWritableSubdirectory(directory, "logs");
        string log = Path.Combine(logs, "danted.log");
        // external 127.0.0.1: dante can reach loopback targets only, whatever a test asks for.
        string users = UpstreamProcess.IsRoot ? "user.privileged: root\nuser.unprivileged: nobody\n" : string.Empty;
        string config = $$"""
            logoutput: {{log}}
            internal: 127.0.0.1 port = {{port}}
            external: 127.0.0.1
            clientmethod: none
            socksmethod: none
            {{users}}
            client pass {
                from: 127.0.0.0/8 to: 0.0.0.0/0
            }
            socks pass {
                from: 127.0.0.0/8 to: 0.0.0.0/0
                command: connect
            }

            """;
        string configPath = Path.Combine(directory, "danted.conf");
        await File.WriteAllTextAsync(configPath, config);

        // No -D (daemon mode): the PID we hold is dante's main process. -N 1: one request-handling process set.
        (UpstreamProcess? process, string? failure) = await UpstreamProcess.StartAsync(
            executable, ["-f", configPath, "-p", Path.Combine(logs, "danted.pid"), "-N", "1"], directory, port, log, hermeticDns: true);
        if (process is null)
        {
            throw Tools.Unavailable(failure);
        }

        return new Dante(process);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
