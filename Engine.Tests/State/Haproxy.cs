using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;

namespace Engine.Tests.State;

/// <summary>HAProxy (apt) in the foreground, TCP mode, round robin over the given loopback backends.</summary>
internal sealed class Haproxy : IAsyncDisposable
{
    private readonly UpstreamProcess _process;

    private Haproxy(UpstreamProcess process, string config)
    {
        _process = process;
        Config = config;
    }

    public static string? UnavailableReason =>
        Executable() is null ? "haproxy is not on PATH (apt-get install haproxy)" : null;

    public System.Net.IPEndPoint EndPoint => _process.EndPoint;

    /// <summary>The haproxy.cfg it runs (docs/scale-out.md shows the same).</summary>
    public string Config { get; }

    private static string? Executable() =>
        UpstreamProcess.FindOnPath("haproxy") ?? (File.Exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : null);

    /// <param name="sendProxy">Prefix every connection to the backends with a PROXY protocol v2 header (<c>send-proxy-v2</c>).</param>
    public static async Task<Haproxy> StartAsync(IReadOnlyList<System.Net.IPEndPoint> backends, bool sendProxy = false)
    {
        string executable = Executable() ?? throw Tools.Unavailable(UnavailableReason!);
        int port = UpstreamProcess.FreePort();
        string directory = UpstreamProcess.CreateDirectory("haproxy-").FullName;
        string config = $"""
            global
                maxconn 4096

            defaults
                mode tcp
                timeout connect 5s
                timeout client 130s
                timeout server 130s

            frontend proxy
                bind 127.0.0.1:{port}
                default_backend engines

            backend engines
                balance roundrobin
            {string.Join("\n", backends.Select((b, i) => $"    server engine{i + 1} {b} check inter 2s{(sendProxy ? " send-proxy-v2 check-send-proxy" : "")}"))}

            """;
        string path = Path.Combine(directory, "haproxy.cfg");
        await File.WriteAllTextAsync(path, config);
        // -db: stay in the foreground, so the PID we hold is the proxy.
        (UpstreamProcess? process, string? failure) = await UpstreamProcess.StartAsync(
            executable, ["-db", "-f", path], directory, port, logFile: null, hermeticDns: false);
        return process is null ? throw Tools.Unavailable(failure) : new Haproxy(process, config);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
