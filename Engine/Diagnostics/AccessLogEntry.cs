using System.Net;

namespace Engine.Diagnostics;

/// <summary>One request or tunnel, as the access log records it. Spans point into the connection's buffers.</summary>
internal ref struct AccessLogEntry
{
    public DateTimeOffset Time;
    public ReadOnlySpan<byte> CorrelationId;
    public IPEndPoint? Client;
    public ReadOnlySpan<char> PackageId;

    /// <summary>The targeting rules (the username), never the key; empty when the package's defaults applied.</summary>
    public ReadOnlySpan<byte> Rules;
    public ReadOnlySpan<byte> Method;
    public ReadOnlySpan<byte> Target;
    public ReadOnlySpan<char> NodeId;
    public int Status;
    public ReadOnlySpan<char> Code;
    public long BytesIn;
    public long BytesOut;
    public TimeSpan Duration;
    public TerminationState Termination;
    public int Attempts;

    /// <summary>
    /// The node's own status when the answer was translated from a node's error (Upstream.NodeAnswer); 0: none.
    /// With <see cref="UpstreamError"/> and <see cref="UpstreamSource"/> it is the problem body's <c>upstream</c> member.
    /// </summary>
    public int UpstreamStatus;

    /// <summary>The node's own error id, e.g. <c>ERR_DNS_FAIL</c>.</summary>
    public ReadOnlySpan<byte> UpstreamError;

    /// <summary>The signal it came from, e.g. <c>X-Squid-Error</c>.</summary>
    public ReadOnlySpan<byte> UpstreamSource;
}
