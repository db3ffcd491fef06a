using Engine.Http;

namespace Engine.Upstream;

/// <summary>
/// Where one request goes and how: <see cref="Host"/> as the connectors and the bans key it,
/// the parsed head (its host bytes key the upstream pool), and for absolute-URI requests the pool
/// a node's idle connection may be rented from (<see cref="CanResendWhole"/> lets a connection
/// back less than a second skip the liveness check, see <see cref="UpstreamConnectionPool.Rent"/>).
/// </summary>
internal readonly record struct RouteTarget(
    string Host,
    int Port,
    RequestHead Head,
    ConnectPurpose Purpose,
    UpstreamConnectionPool? Pool = null,
    bool CanResendWhole = false);
