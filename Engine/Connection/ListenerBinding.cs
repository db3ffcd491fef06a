using System.Net;
using System.Net.Sockets;
using Engine.Transport;

namespace Engine.Connection;

/// <summary>
/// One listener to serve: where, what its clients speak, for TLS listeners the certificate, and
/// when systemd passed a listening socket for this endpoint (socket activation) that socket, and
/// whether every connection starts with a PROXY protocol header from a load balancer.
/// </summary>
internal sealed record ListenerBinding(IPEndPoint EndPoint, ClientProtocol Protocol, TlsCertificateSource? Certificate = null, Socket? Inherited = null,
    bool ProxyProtocol = false);
