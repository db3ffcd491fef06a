using Engine.Errors;

namespace Engine.Socks;

/// <summary>
/// Checks the credentials of a SOCKS5 handshake: the RFC 1929 username (the targeting rules) and
/// password (the package key), or none for IP authentication. Returns the refusal, or
/// <see cref="ErrorCode.None"/>; the handshake decides from the catalog whether a refusal fails the
/// RFC 1929 step or is answered at the request.
/// </summary>
internal interface ISocks5Authenticator
{
    ValueTask<ErrorCode> AuthenticateAsync(ReadOnlyMemory<byte> user, ReadOnlyMemory<byte> password, bool credentialsOffered);
}
