using System.Net.Sockets;

using Engine.Transport;

namespace Engine.Upstream;

/// <summary>
/// The outcome of routing: on <see cref="RouteStatus.Connected"/> the socket (fresh or
/// <see cref="Reused"/> from the pool) and any target bytes an upstream proxy sent behind its
/// CONNECT answer (<see cref="Early"/>); otherwise the refusal, with the last connect's result.
/// </summary>
internal readonly record struct RouteResult(
    RouteStatus Status,
    TcpSocket? Socket = null,
    ReadOnlyMemory<byte> Early = default,
    bool Reused = false,
    ConnectResult Connect = default);
