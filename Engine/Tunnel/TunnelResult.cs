using Engine.Diagnostics;

namespace Engine.Tunnel;

/// <summary>How a tunnel ended (the first cause only) and what it carried.</summary>
internal readonly record struct TunnelResult(TerminationState Termination, long BytesFromClient, long BytesFromTarget);
