namespace Engine.Targets;

/// <summary>
/// The ports a plain-HTTP (absolute-URI) request may reach (<c>Security:AllowedHttpPorts</c>).
/// Modelled on Squid's <c>http_access deny !Safe_ports</c>: Squid allows 80, 443, a few legacy
/// protocol ports and 1025–65535. This default is the same minus the ports where a forged HTTP
/// request would talk to another protocol: the Fetch standard's "bad ports" at or above 1024
/// (SIP, IRC, X11, NFS, …) and the usual database, cache, queue and control ports.
/// </summary>
internal static class HttpPorts
{
    /// <summary>Refused by the default even though they are above 1023 (docs/configuration.md lists them).</summary>
    public static readonly int[] ServicePorts =
    [
        // Fetch "bad ports" (https://fetch.spec.whatwg.org/#port-blocking) ≥ 1024.
        1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
        // Databases, caches, queues, cluster control: text protocols a request line can reach.
        1433, 1521, 2375, 2376, 2379, 2380, 3306, 3389, 4369, 5432, 5672, 5900, 6379, 9042, 9092, 11211, 27017,
    ];

    /// <summary>80, 443 and 1024–65535 minus <see cref="ServicePorts"/> (8080 and 8443 included).</summary>
    public static IReadOnlyList<PortRange> Default { get; } = CreateDefault();

    /// <summary>A 65,536-bit map: the lookup is one bit test.</summary>
    public static System.Collections.BitArray ToMap(IEnumerable<PortRange> ranges)
    {
        var map = new System.Collections.BitArray(65536);
        foreach (PortRange range in ranges)
        {
            for (int port = range.From; port <= range.To; port++)
            {
                map[port] = true;
            }
        }

        return map;
    }

    private static PortRange[] CreateDefault()
    {
        var ranges = new List<PortRange> { PortRange.One(80), PortRange.One(443) };
        int start = 1024;
        foreach (int port in ServicePorts.Order())
        {
            if (port > start)
            {
                ranges.Add(new PortRange(start, port - 1));
            }

            start = port + 1;
        }

        ranges.Add(new PortRange(start, 65535));
        return [.. ranges];
    }
}
