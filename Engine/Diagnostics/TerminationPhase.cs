namespace Engine.Diagnostics;

/// <summary>When it ended: the second character of HAProxy's termination state.</summary>
internal enum TerminationPhase : byte
{
    /// <summary><c>-</c>: completed.</summary>
    Completed = (byte)'-',
    /// <summary><c>R</c>: while reading or judging the client's request.</summary>
    Request = (byte)'R',
    /// <summary><c>C</c>: while connecting to the node or the target.</summary>
    Connect = (byte)'C',
    /// <summary><c>H</c>: while waiting for or relaying the response head.</summary>
    Headers = (byte)'H',
    /// <summary><c>D</c>: while relaying data (bodies, tunnels).</summary>
    Data = (byte)'D',
}
