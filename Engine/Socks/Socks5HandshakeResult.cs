using Engine.Errors;

namespace Engine.Socks;

/// <summary>
/// The end of a SOCKS5 handshake: on <see cref="Socks5HandshakeStatus.Refused"/>, the catalog
/// error that was answered; on <see cref="Socks5HandshakeStatus.Ready"/>, a refusal the
/// authenticator returned that is not an RFC 1929 failure (it is answered at the request,
/// <see cref="Deferred"/>). <see cref="BytesOut"/>: handshake bytes sent to the client.
/// </summary>
internal readonly record struct Socks5HandshakeResult(Socks5HandshakeStatus Status, ErrorCode Error, ErrorCode Deferred, long BytesOut);
