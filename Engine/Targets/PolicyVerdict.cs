namespace Engine.Targets;

internal enum PolicyVerdict : byte
{
    Allowed,
    /// <summary>CONNECT (or SOCKS5) to a port outside <c>Security:AllowedConnectPorts</c>.</summary>
    PortNotAllowed,
    /// <summary>A plain-HTTP request to a port outside <c>Security:AllowedHttpPorts</c>.</summary>
    HttpPortNotAllowed,
    BlockedDomain,
    ForbiddenAddress,
}
