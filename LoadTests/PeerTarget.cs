namespace LoadTests;

/// <summary>
/// One column of the peer comparison: the engine or a peer started by the peer scripts
/// (../shared/bench/peers, start-peers.sh), its port there and what it speaks.
/// </summary>
/// <param name="Programs">Executables that must be on PATH (or files that must exist) for it to count as installed.</param>
internal sealed record PeerTarget(string Name, int Port, PeerMode Mode, string[] Programs)
{
    public const string Engine = "engine";

    public bool IsEngine => Name == Engine;

    /// <summary>CONNECT tunnels (or, for a relay, plain connections) apply: not to HAProxy in http mode.</summary>
    public bool Tunnels => Mode != PeerMode.GetOnly;

    /// <summary>Every target in table order; ports as start-peers.sh binds them.</summary>
    public static PeerTarget[] All(int enginePort) =>
    [
        new(Engine, enginePort, PeerMode.Proxy, []),
        new("haproxy-tcp", 18101, PeerMode.Raw, ["haproxy"]),
        new("haproxy-http", 18100, PeerMode.GetOnly, ["haproxy"]),
        new("squid", 13128, PeerMode.Proxy, ["squid"]),
        new("tinyproxy", 18888, PeerMode.Proxy, ["tinyproxy"]),
        new("proxy-chain", 18000, PeerMode.Proxy, ["node", "/tmp/proxy-chain/server.js"]),
        new("trafficserver", 18300, PeerMode.Proxy, ["traffic_server"]),
    ];

    /// <summary>
    /// The targets named in <paramref name="list"/> (comma-separated; "haproxy" means both modes),
    /// or all of them; the engine first. Unknown names are an error.
    /// </summary>
    public static List<PeerTarget> Select(string? list, int enginePort)
    {
        PeerTarget[] all = All(enginePort);
        if (string.IsNullOrWhiteSpace(list))
        {
            return [.. all];
        }

        var wanted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string name in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] names = name.Equals("haproxy", StringComparison.OrdinalIgnoreCase) ? ["haproxy-tcp", "haproxy-http"] : [name];
            foreach (string n in names)
            {
                if (!all.Any(t => t.Name.Equals(n, StringComparison.OrdinalIgnoreCase)))
                {
                    throw new ArgumentException($"unknown target '{n}' (known: {string.Join(", ", all.Select(t => t.Name))}, haproxy)");
                }

                wanted.Add(n);
            }
        }

        return [.. all.Where(t => wanted.Contains(t.Name))];
    }

    public bool IsInstalled() => Programs.All(p => p.StartsWith('/') ? File.Exists(p) : OnPath(p));

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}
