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
}
