using System.Net.Sockets;
using Engine.Http;
using Engine.Limits;
using Engine.Transport;
using Engine.Upstream;

namespace Engine.Forwarding;

/// <summary>
/// One exchange to run: the parsed client request, the node it goes through and the connection
/// opened (or rented) to it. <see cref="CanRetry"/>: the connection was reused and the request can
/// be sent again whole, so a failure before any response byte earns a retry on a fresh one.
/// <see cref="ProxyAuthorization"/>: a provider gateway's credentials rendered for this request
/// (null: the node's own).
/// </summary>
internal readonly record struct ExchangeRequest(
    RequestHead Head,
    Node Node,
    TcpSocket Upstream,
    bool Pooled,
    bool CanRetry,
    ExchangeSettings Settings,
    int Attempts = 1,
    TrafficAccount? Traffic = null,
    long TrafficBase = 0,
    byte[]? ProxyAuthorization = null);
