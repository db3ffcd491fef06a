namespace Engine.Upstream;

/// <summary>
/// How an attempt to open a path to a target ended. Node-side failures are kept apart from
/// target-side ones so the engine can say whether to replace the node or blame the target.
/// </summary>
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
    /// <summary>502 NODE_UNAVAILABLE: the node itself refused, reset, timed out or is down.</summary>
    NodeUnavailable,
    /// <summary>502 NODE_UNAVAILABLE: the upstream proxy rejected our credentials (its 407, SOCKS auth failure).</summary>
    NodeAuthFailed,
    /// <summary>502 NODE_UNAVAILABLE: the node answered something that is not its protocol.</summary>
    NodeProtocolError,
    /// <summary>557 BUILD_CONNECT: the node cannot carry this kind of tunnel (unsupported command or address type).</summary>
    NodeCannotCarry,
    /// <summary>
    /// 503 OVERLOADED: the engine could not open a socket of its own (out of descriptors or socket
    /// memory): its capacity, not the node's or the target's fault, so neither is blamed or banned.
    /// </summary>
    OutOfSockets,
}
