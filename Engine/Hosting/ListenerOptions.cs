using System.Net;

namespace Engine.Hosting;

/// <summary><c>Engine.Listeners[i]</c>.</summary>
internal sealed class ListenerOptions
{
    /// <summary>Kestrel's SocketTransportOptions.Backlog default (nginx uses 511); the kernel caps it at net.core.somaxconn.</summary>
    public const int DefaultBacklog = 512;

    /// <summary>Port 0 binds an ephemeral port; the banner and logs show the one the kernel picked.</summary>
    public IPEndPoint Endpoint { get; init; } = new(IPAddress.Loopback, 8080);

    public ListenerProtocol Protocol { get; init; } = ListenerProtocol.Http;

    /// <summary>
    /// <see cref="ListenerProtocol.Https"/> listeners: a PFX file, or a PEM certificate (chain)
    /// with <see cref="CertificateKey"/>. Reloaded when the files change.
    /// </summary>
    public string? Certificate { get; init; }

    /// <summary>PEM private key that goes with a PEM <see cref="Certificate"/>.</summary>
    public string? CertificateKey { get; init; }

    /// <summary>Password of a PFX <see cref="Certificate"/>. Never logged.</summary>
    public string? CertificatePassword { get; init; }

    public int Backlog { get; init; } = DefaultBacklog;

    /// <summary>
    /// Every connection starts with a PROXY protocol header (v1 or v2) from an L4 load balancer
    /// (HAProxy <c>send-proxy-v2</c>, AWS NLB, ...), whose client address then counts for IP auth,
    /// allowlists, the brute-force throttle and the access log. Connections without one are closed.
    /// </summary>
    public bool ProxyProtocol { get; init; }

    public override string ToString() => $"{Protocol.ToString().ToLowerInvariant()}://{Endpoint}";
}
