using System.Globalization;
using System.Net;

namespace LoadTests;

/// <summary>Command-line options: <c>--name value</c> pairs after the scenario name.</summary>
internal sealed class LoadOptions
{
    public string Scenario { get; private init; } = "help";
    public IPEndPoint? Proxy { get; private init; }
    public string? ProxyAuth { get; private init; }
    public IPEndPoint? Origin { get; private init; }
    public int Connections { get; private init; } = 64;
    public TimeSpan Duration { get; private init; } = TimeSpan.FromSeconds(10);
    public long MaxRequests { get; private init; } = long.MaxValue;
    public long Bytes { get; private init; } = 256L * 1024 * 1024;
    public string Path { get; private init; } = "/small";

    /// <summary><c>--socks 1</c>: tunnels open with a SOCKS5 handshake (RFC 1929 credentials from --auth) instead of CONNECT.</summary>
    public bool Socks { get; private init; }

    /// <summary><c>--tunnels 1</c> (idle): hold CONNECT tunnels rather than bare connections.</summary>
    public bool Tunnels { get; private init; }

    /// <summary><c>--pid N</c> (idle): the proxy process whose RSS is read.</summary>
    public int Pid { get; private init; }

    /// <summary>
    /// <c>--raw 1</c>: the "proxy" is a TCP relay to the origin (HAProxy in tcp mode): origin-form
    /// requests on plain connections, no CONNECT.
    /// </summary>
    public bool Raw { get; private init; }

    /// <summary><c>--probe 1</c> (idle): one keep-alive GET through each connection before it idles, so the proxy has its upstream leg up.</summary>
    public bool Probe { get; private init; }

    /// <summary><c>--metrics URL</c>: the engine's admin <c>/metrics</c>, scraped before and after a scenario for its GC figures.</summary>
    public Uri? Metrics { get; private init; }

    /// <summary><c>--admin-token T</c>: the bearer token for <see cref="Metrics"/>.</summary>
    public string? AdminToken { get; private init; }

    /// <summary>The <c>--name value</c> pairs after the scenario name (<c>--peers</c> alone is the scenario, not a pair).</summary>
    public static Dictionary<string, string> Pairs(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 == args.Length)
            {
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            }

            values[args[i][2..]] = args[i + 1];
        }

        return values;
    }

    public static LoadOptions Parse(string[] args)
    {
        Dictionary<string, string> values = Pairs(args);
        string? Get(string name) => values.TryGetValue(name, out string? v) ? v : null;

        var defaults = new LoadOptions();
        return new LoadOptions
        {
            // The issue spells the peer comparison as a flag: `LoadTests --peers`.
            Scenario = args.Length == 0 ? "help" : args[0] == "--peers" ? "peers" : args[0],
            Proxy = Get("proxy") is { } p ? IPEndPoint.Parse(p) : null,
            ProxyAuth = Get("auth"),
            Origin = Get("origin") is { } o ? IPEndPoint.Parse(o) : null,
            Connections = Get("connections") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : defaults.Connections,
            Duration = Get("duration") is { } d ? TimeSpan.FromSeconds(double.Parse(d.TrimEnd('s'), CultureInfo.InvariantCulture)) : defaults.Duration,
            MaxRequests = Get("requests") is { } r ? long.Parse(r, CultureInfo.InvariantCulture) : defaults.MaxRequests,
            Bytes = Get("bytes") is { } b ? long.Parse(b, CultureInfo.InvariantCulture) : defaults.Bytes,
            Path = Get("path") ?? defaults.Path,
            Socks = Get("socks") is "1" or "true",
            Tunnels = Get("tunnels") is "1" or "true",
            Pid = Get("pid") is { } pid ? int.Parse(pid, CultureInfo.InvariantCulture) : 0,
            Raw = Get("raw") is "1" or "true",
            Probe = Get("probe") is "1" or "true",
            Metrics = Get("metrics") is { } m ? new Uri(m, UriKind.Absolute) : null,
            AdminToken = Get("admin-token"),
        };
    }
}
