namespace Engine.Http;

/// <summary>
/// Size limits and policy switches for <see cref="HttpRequestParser"/> (the request head). A chunked
/// body's limits (extensions, trailer section) belong to the scanner that frames it:
/// <see cref="Forwarding.ChunkedFramingScanner"/>.
/// Every default names where it comes from; <see cref="Validate"/> runs at start-up.
/// </summary>
internal sealed record HttpParserLimits
{
    public static HttpParserLimits Default { get; } = new();

    /// <summary>
    /// Request line, excluding CRLF; longer gets 414. 8 KiB: Kestrel MaxRequestLineSize and nginx
    /// large_client_header_buffers (4 8k). Empty lines skipped before it (RFC 9112 §2.2) count against it too.
    /// </summary>
    public int MaxRequestLineBytes { get; init; } = 8 * 1024;

    /// <summary>
    /// Header section after the request line, field lines and CRLFs included; larger gets 431.
    /// 32 KiB: Kestrel MaxRequestHeadersTotalSize (which likewise excludes the request line).
    /// </summary>
    public int MaxRequestHeadBytes { get; init; } = 32 * 1024;

    /// <summary>Field lines in the header section; more gets 431. 100: Kestrel MaxRequestHeaderCount.</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>
    /// Reject an HTTP/1.1 request without Host (RFC 9112 §3.2 MUST). Duplicate or invalid Host is
    /// always rejected; this only allows testing against corpora (llhttp) that omit Host.
    /// </summary>
    public bool RequireHost { get; init; } = true;

    /// <summary>Problems with the configured values, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        Check(problems, nameof(MaxRequestLineBytes), MaxRequestLineBytes, 64, 1 << 20);
        Check(problems, nameof(MaxRequestHeadBytes), MaxRequestHeadBytes, 64, 1 << 24);
        Check(problems, nameof(MaxHeaderCount), MaxHeaderCount, 1, 10_000);
        return problems;
    }

    private static void Check(List<string> problems, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            problems.Add($"{name} = {value} is outside [{min}, {max}]");
        }
    }
}
