namespace Engine.Upstream;

/// <summary>How an attempt to open a connection to a target ended.</summary>
internal enum ConnectStatus : byte
{
    Connected,
    /// <summary>403 DISALLOWED: port, blocklist or a forbidden resolved address.</summary>
    Disallowed,
    /// <summary>502 NAME_NOT_RESOLVED.</summary>
    NameNotResolved,
    /// <summary>502 TARGET_CONNECT_FAILED: refused, unreachable, reset during the handshake.</summary>
    Refused,
    /// <summary>504 GATEWAY_TIMEOUT: resolution plus connection took longer than ConnectTimeout.</summary>
    TimedOut,
    /// <summary>The engine is shutting down.</summary>
    Aborted,
}
