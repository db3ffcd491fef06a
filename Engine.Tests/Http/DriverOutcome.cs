using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>What the driver observed for one input under one feeding.</summary>
internal sealed class DriverOutcome
{
    public List<DriverMessage> Messages { get; } = [];

    public bool Rejected { get; set; }

    public RejectReason Reason { get; set; }

    /// <summary>"connect" or "upgrade" when HTTP/1 parsing stopped on purpose.</summary>
    public string? StopKind { get; set; }

    public long StopOffset { get; set; }

    /// <summary>Input ended inside a message.</summary>
    public bool Incomplete { get; set; }

    public bool HeadersComplete { get; set; }

    /// <summary>The message in progress when <see cref="HeadersComplete"/>, body so far included.</summary>
    public DriverMessage? Partial { get; set; }

    public override string ToString() =>
        Rejected ? $"rejected {Reason} after {Messages.Count}"
        : StopKind is not null ? $"{StopKind} at {StopOffset} after {Messages.Count}"
        : Incomplete ? $"incomplete (headers {(HeadersComplete ? "complete" : "partial")}) after {Messages.Count}"
        : $"ok {Messages.Count}";
}
