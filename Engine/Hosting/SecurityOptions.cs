namespace Engine.Hosting;

/// <summary><c>Engine.Security</c>: which targets the engine will reach.</summary>
internal sealed class SecurityOptions
{
    /// <summary>Off by default: a proxy that reaches 127.0.0.1, 10/8 or 169.254.169.254 is an SSRF hole.</summary>
    public bool AllowPrivateTargets { get; init; }

    /// <summary>
    /// Ports a CONNECT may reach. Squid's default SSL_ports is 443 alone; scraping clients also
    /// tunnel plain HTTP and 8443, so 443, 80, 8443 (the spec's list). An explicitly empty list allows every port.
    /// </summary>
    public IReadOnlyList<int> AllowedConnectPorts { get; init; } = [443, 80, 8443];

    /// <summary>
    /// Ports a plain-HTTP (absolute-URI) request may reach, as ports or ranges; an explicitly empty
    /// list allows every port. Default: Squid's Safe_ports idea, 80, 443 and 1024–65535 minus the
    /// service ports of <see cref="Targets.HttpPorts.ServicePorts"/>.
    /// </summary>
    public IReadOnlyList<Targets.PortRange> AllowedHttpPorts { get; init; } = Targets.HttpPorts.Default;

    /// <summary>
    /// Failed credential attempts per client address per minute before its further failures are
    /// slowed (answered after 1 s, connection closed); 0 = off. 30 a minute is far above a
    /// misconfigured client's retries and far below a brute-forcer's rate.
    /// </summary>
    public int AuthFailuresPerMinute { get; init; } = 30;

    /// <summary>Domains (and their subdomains) the engine refuses with 403 DISALLOWED.</summary>
    public IReadOnlyList<string> BlockedDomains { get; init; } = [];
}
