using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Engine.Errors;

namespace Engine.Upstream;

/// <summary>
/// What <see cref="NodeAnswerClassifier"/> made of a node's response head: relay it (the target's own
/// answer), or replace it with <see cref="Code"/> and blame the target or the node. Self-contained (the
/// node's error id is copied into an inline buffer), so it outlives the head it was read from: it can ride
/// in a result through failover and reach the error writer and the access log without allocating.
/// </summary>
internal readonly struct NodeAnswer
{
    /// <summary>A node's own error id is an identifier; longer ones are cut (the problem body caps it at 64).</summary>
    public const int MaxErrorIdBytes = 48;

    private readonly ErrorIdBuffer _errorId;
    private readonly byte _errorIdLength;

    public NodeAnswer(NodeAnswerBlame blame, ErrorCode code, NodeSignal signal, int status, ReadOnlySpan<byte> errorId)
    {
        Blame = blame;
        Code = code;
        Signal = signal;
        Status = status;
        errorId = errorId[..Math.Min(errorId.Length, MaxErrorIdBytes)];
        errorId.CopyTo(_errorId);
        _errorIdLength = (byte)errorId.Length;
    }

    /// <summary>None: no error signal, the response is the target's and is relayed untouched.</summary>
    public NodeAnswerBlame Blame { get; }

    /// <summary>Our catalog error to answer with (None when <see cref="Blame"/> is None).</summary>
    public ErrorCode Code { get; }

    /// <summary>Which signal decided (the row of the classifier's table).</summary>
    public NodeSignal Signal { get; }

    /// <summary>The node's HTTP status.</summary>
    public int Status { get; }

    /// <summary>True when the node's answer is an error to translate, not a target response to relay.</summary>
    public bool IsError => Blame != NodeAnswerBlame.None;

    /// <summary>
    /// The node failed (NODE_UNAVAILABLE): count it against the node and fail over as for a refused connect.
    /// BUILD_REQUEST / BUILD_CONNECT are the node's too, but say what it cannot carry, not that it is down:
    /// answered at once, as a SOCKS5 node's "command not supported" is (ConnectStatus.NodeCannotCarry).
    /// </summary>
    public bool FailsOver => Blame == NodeAnswerBlame.Node && Code == ErrorCode.NodeUnavailable;

    /// <summary>The node's own error id (e.g. <c>ERR_DNS_FAIL</c>, <c>dns_error</c>), cut at <see cref="MaxErrorIdBytes"/>; may be empty.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> ErrorId => ((ReadOnlySpan<byte>)_errorId)[.._errorIdLength];

    /// <summary>The signal's wire name for the <c>upstream.source</c> member, e.g. <c>X-Squid-Error</c>.</summary>
    public ReadOnlySpan<byte> Source => NodeSignals.Name(Signal);

    [InlineArray(MaxErrorIdBytes)]
    private struct ErrorIdBuffer
    {
        private byte _element;
    }
}
