namespace Engine.Errors;

/// <summary>One row of the error catalog (spec/errors.md): everything the engine says about a code.</summary>
public sealed class ErrorDescriptor
{
    internal ErrorDescriptor(
        ErrorCode code,
        int status,
        string reasonPhrase,
        string name,
        ErrorCategory category,
        RetryClass retry,
        ProxyStatusError proxyStatus,
        Socks5Reply socks5Reply,
        ErrorTraits traits,
        string title,
        string defaultDetail,
        int retryAfter = -1)
    {
        Code = code;
        Status = status;
        ReasonPhrase = reasonPhrase;
        Name = name;
        Category = category;
        Retry = retry;
        ProxyStatus = proxyStatus;
        Socks5Reply = socks5Reply;
        Traits = traits;
        Title = title;
        DefaultDetail = defaultDetail;
        DefaultRetryAfterSeconds = retryAfter;
    }

    public ErrorCode Code { get; }

    /// <summary>HTTP status code of the response.</summary>
    public int Status { get; }

    /// <summary>Reason phrase of the status line.</summary>
    public string ReasonPhrase { get; }

    /// <summary>The CODE of the contract, as sent in X-Proxy-Error and the body's <c>code</c>.</summary>
    public string Name { get; }

    public ErrorCategory Category { get; }

    public RetryClass Retry { get; }

    /// <summary>RFC 9209 error type sent as <c>Proxy-Status: name; error=TYPE</c>.</summary>
    public ProxyStatusError ProxyStatus { get; }

    /// <summary>The nearest RFC 1928 reply when this error is found at the SOCKS5 request stage.</summary>
    public Socks5Reply Socks5Reply { get; }

    internal ErrorTraits Traits { get; }

    /// <summary>Short human title (the problem body's <c>title</c>).</summary>
    public string Title { get; }

    /// <summary>Detail used when the caller gives none: one line, printable ASCII.</summary>
    public string DefaultDetail { get; }

    /// <summary>The 407 carries <c>Proxy-Authenticate: Basic realm="…"</c> so a client can retry with credentials.</summary>
    public bool SendsProxyAuthenticate => (Traits & ErrorTraits.ProxyAuthenticate) != 0;

    /// <summary>A Retry-After header is normal for this code (429, 503, 557 NO_PROXY, every <c>backoff</c> code).</summary>
    public bool RetryAfterUsual => (Traits & ErrorTraits.RetryAfter) != 0;

    /// <summary>
    /// The Retry-After the writer sends when the caller knows no better wait (the limiter's and the
    /// breaker's own waits take precedence); -1 for codes that carry none by default, e.g.
    /// TRAFFIC_LIMIT_EXCEEDED, whose wait only exists when its cap has a period.
    /// </summary>
    public int DefaultRetryAfterSeconds { get; }

    /// <summary>
    /// Found while the SOCKS5 client authenticates (targeting rules live in the username): answer the
    /// RFC 1929 sub-negotiation with a failure status (0x01) and close, instead of an RFC 1928 reply.
    /// </summary>
    public bool Socks5AuthFailure => (Traits & ErrorTraits.Socks5AuthFailure) != 0;

    /// <summary>Never answered on the wire (WRITE_ERROR: the client is gone); only logged.</summary>
    public bool LogOnly => (Traits & ErrorTraits.LogOnly) != 0;

    public override string ToString() => Name;
}
