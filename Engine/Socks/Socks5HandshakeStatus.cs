namespace Engine.Socks;

/// <summary>How a SOCKS5 handshake ended.</summary>
internal enum Socks5HandshakeStatus : byte
{
    /// <summary>A CONNECT request was read into the request head; the reply is the caller's to send.</summary>
    Ready,
    /// <summary>The handshake was refused and the reply or status that says so has been sent; the connection closes.</summary>
    Refused,
    /// <summary>The client closed during the handshake.</summary>
    ClientGone,
}
