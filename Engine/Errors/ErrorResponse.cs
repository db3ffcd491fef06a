namespace Engine.Errors;

/// <summary>
/// One error to answer, as the connection layer knows it: every byte field is a view of the connection's own
/// buffers (request line, rule parser output), so building one allocates nothing. Empty spans and nulls mean
/// "absent": the member or header is left out (an empty <see cref="Detail"/> means the catalog's default).
/// </summary>
/// <example><code>
/// writer.Write(output, new ErrorResponse(ErrorCode.ErrAuthRequired)
/// {
///     Method = "CONNECT"u8, Target = target, CorrelationId = id, KeepAlive = true,
/// });
/// </code></example>
internal readonly ref struct ErrorResponse
{
    /// <summary>Separates the items of <see cref="Filters"/>; spaces around an item are dropped.</summary>
    public const byte FilterSeparator = (byte)',';

    public ErrorResponse(ErrorCode code) => Code = code;

    public ErrorCode Code { get; init; }

    /// <summary>One line for the user (UTF-8); empty: the catalog's default detail. Echoed in headers and body.</summary>
    public ReadOnlySpan<byte> Detail { get; init; }

    /// <summary>Request method as received; with <see cref="Target"/> it forms the body's <c>instance</c>.</summary>
    public ReadOnlySpan<byte> Method { get; init; }

    /// <summary>Request target as received (truncated when echoed).</summary>
    public ReadOnlySpan<byte> Target { get; init; }

    /// <summary>The id also written to this request's access-log line.</summary>
    public CorrelationId CorrelationId { get; init; }

    /// <summary>Seconds for the Retry-After header and the <c>retryAfterSeconds</c> member; null or negative: none.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>Which limit answered (429/503): the <c>limitedBy</c> member.</summary>
    public LimitedBy LimitedBy { get; init; }

    /// <summary>
    /// The unmatched targeting filters (NODE_NOT_FOUND) as <c>name=value</c> items separated by
    /// <see cref="FilterSeparator"/>, e.g. <c>country=us, city=los_angeles</c>: the <c>filters</c> array.
    /// </summary>
    public ReadOnlySpan<byte> Filters { get; init; }

    /// <summary>The node involved, if any: the <c>nodeId</c> member.</summary>
    public ReadOnlySpan<byte> NodeId { get; init; }

    /// <summary>How many attempts were made (RETRIES_EXHAUSTED): the <c>attempts</c> member; null or negative: none.</summary>
    public int? Attempts { get; init; }

    /// <summary>The offending rule name (rule errors): the <c>param</c> member.</summary>
    public ReadOnlySpan<byte> Param { get; init; }

    /// <summary>
    /// The node's HTTP status when this error was translated from a node's own error answer
    /// (NodeAnswerClassifier): with <see cref="UpstreamError"/>, <see cref="UpstreamSource"/> and
    /// <see cref="NodeId"/> it forms the <c>upstream</c> member; 0: no such member.
    /// </summary>
    public int UpstreamStatus { get; init; }

    /// <summary>The node's own error id, e.g. <c>ERR_DNS_FAIL</c> (may be empty when the signal carries none).</summary>
    public ReadOnlySpan<byte> UpstreamError { get; init; }

    /// <summary>The signal it came from, e.g. <c>X-Squid-Error</c> or <c>Proxy-Status</c>.</summary>
    public ReadOnlySpan<byte> UpstreamSource { get; init; }

    /// <summary>
    /// <c>Connection: keep-alive</c> when the request was fully read and the parser state is known (a 407 in
    /// particular, so the client can retry with credentials); otherwise <c>Connection: close</c>.
    /// </summary>
    public bool KeepAlive { get; init; }
}
