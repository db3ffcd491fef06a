using Engine.Diagnostics;

namespace Engine.Errors;

/// <summary>
/// One refusal or failure as the catalog answers it: the code (its status and retry class come
/// from <see cref="ErrorCatalog"/>), who ended the request and when (<see cref="Termination"/>),
/// and what is particular to this occurrence. Built by <see cref="ProxyFailures"/> from the
/// components' result values; every byte field is a view, nothing is copied.
/// </summary>
internal readonly ref struct ProxyFailure
{
    public ProxyFailure(ErrorCode code, TerminationState termination, ReadOnlySpan<byte> detail)
    {
        Code = code;
        Termination = termination;
        Detail = detail;
    }

    public ErrorCode Code { get; }

    public TerminationState Termination { get; }

    public ReadOnlySpan<byte> Detail { get; }

    /// <summary>Seconds for Retry-After; negative: none.</summary>
    public int RetryAfterSeconds { get; init; } = -1;

    /// <summary>Which limit answered (429/503), also counted in <c>engine_limited_total</c>.</summary>
    public LimitedBy LimitedBy { get; init; }

    /// <summary>NODE_NOT_FOUND's unmatched filters.</summary>
    public ReadOnlySpan<byte> Filters { get; init; }

    /// <summary>The offending rule name (rule errors).</summary>
    public ReadOnlySpan<byte> Param { get; init; }

    /// <summary>Attempts made (RETRIES_EXHAUSTED); negative: none.</summary>
    public int Attempts { get; init; } = -1;
}
