namespace Engine.Diagnostics;

/// <summary>Who ended a request or tunnel: the first character of HAProxy's termination state.</summary>
internal enum TerminationCause : byte
{
    /// <summary><c>-</c>: ended normally.</summary>
    Normal = (byte)'-',
    /// <summary><c>C</c>: the client aborted or reset.</summary>
    ClientAbort = (byte)'C',
    /// <summary><c>S</c>: the target (or the node in front of it) aborted, reset or refused.</summary>
    TargetAbort = (byte)'S',
    /// <summary><c>P</c>: the proxy refused or cut it (policy, auth, rules, a catalog error).</summary>
    Proxy = (byte)'P',
    /// <summary><c>R</c>: a resource ran out (connection ceiling, memory, a limit).</summary>
    Resource = (byte)'R',
    /// <summary><c>c</c>: a client-side timeout (head deadline, idle).</summary>
    ClientTimeout = (byte)'c',
    /// <summary><c>s</c>: a target-side timeout (connect, response head).</summary>
    TargetTimeout = (byte)'s',
    /// <summary><c>K</c>: killed by shutdown.</summary>
    Killed = (byte)'K',
}
