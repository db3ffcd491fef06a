using System.Net;
using Engine.Transport;

namespace Engine.Connection;

/// <summary>One listener to serve: where, what its clients speak, and for TLS listeners the certificate.</summary>
internal sealed record ListenerBinding(IPEndPoint EndPoint, ClientProtocol Protocol, TlsCertificateSource? Certificate = null);
