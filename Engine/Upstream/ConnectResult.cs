using System.Net.Sockets;
using Engine.Targets;

using Engine.Transport;

namespace Engine.Upstream;

/// <summary>
/// The outcome of a connect: a socket, or what failed and (for policy refusals) which rule.
/// <see cref="Early"/> holds target bytes an upstream proxy sent right behind its CONNECT answer:
/// they go to the client before anything read from the socket. <see cref="NodeAnswer"/> is an HTTP node's
/// own error answer to CONNECT, classified: the <c>upstream</c> member of the error and the log line.
/// </summary>
internal readonly record struct ConnectResult(
    ConnectStatus Status,
    TcpSocket? Socket = null,
    PolicyVerdict Verdict = PolicyVerdict.Allowed,
    AddressClass AddressClass = AddressClass.Public,
    SocketError SocketError = SocketError.Success,
    ReadOnlyMemory<byte> Early = default,
    NodeAnswer NodeAnswer = default);
