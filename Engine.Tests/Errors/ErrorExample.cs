using System.Text;
using Engine.Errors;

namespace Engine.Tests.Errors;

/// <summary>
/// A realistic request for each code, as the connection layer would describe it. The wire tests check these
/// and docs/errors.md shows exactly what the writer makes of them.
/// </summary>
internal sealed record ErrorExample(
    ErrorCode Code,
    string Detail = "",
    string Method = "GET",
    string Target = "http://example.com/",
    int? RetryAfterSeconds = null,
    LimitedBy LimitedBy = LimitedBy.None,
    string Filters = "",
    string NodeId = "",
    int? Attempts = null,
    string Param = "",
    bool KeepAlive = true,
    int UpstreamStatus = 0,
    string UpstreamError = "",
    string UpstreamSource = "")
{
    /// <summary>A fixed id so the documented examples are stable.</summary>
    public static readonly CorrelationId ExampleId = new(0x2a8f5c91d3, 1_234_567);

    /// <summary>Options with the defaults a fresh install has.</summary>
    public static readonly ErrorWriterOptions DefaultOptions = new();

    public byte[] DetailBytes { get; } = Encoding.UTF8.GetBytes(Detail);

    public byte[] MethodBytes { get; } = Encoding.UTF8.GetBytes(Method);

    public byte[] TargetBytes { get; } = Encoding.UTF8.GetBytes(Target);

    public byte[] FiltersBytes { get; } = Encoding.UTF8.GetBytes(Filters);

    public byte[] NodeIdBytes { get; } = Encoding.UTF8.GetBytes(NodeId);

    public byte[] ParamBytes { get; } = Encoding.UTF8.GetBytes(Param);

    /// <summary>What the writer sends as Retry-After: the caller's wait, else the catalog's default.</summary>
    public int? ExpectedRetryAfter => RetryAfterSeconds
        ?? (ErrorCatalog.Get(Code).DefaultRetryAfterSeconds is int d and > 0 ? d : null);

    public byte[] UpstreamErrorBytes { get; } = Encoding.UTF8.GetBytes(UpstreamError);

    public byte[] UpstreamSourceBytes { get; } = Encoding.UTF8.GetBytes(UpstreamSource);

    public ErrorResponse ToResponse(CorrelationId id) => new(Code)
    {
        Detail = DetailBytes,
        Method = MethodBytes,
        Target = TargetBytes,
        CorrelationId = id,
        RetryAfterSeconds = RetryAfterSeconds,
        LimitedBy = LimitedBy,
        Filters = FiltersBytes,
        NodeId = NodeIdBytes,
        Attempts = Attempts,
        Param = ParamBytes,
        KeepAlive = KeepAlive,
        UpstreamStatus = UpstreamStatus,
        UpstreamError = UpstreamErrorBytes,
        UpstreamSource = UpstreamSourceBytes,
    };

    public byte[] Render(ErrorWriter writer) => Render(writer, ExampleId);

    public byte[] Render(ErrorWriter writer, CorrelationId id)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        writer.Write(buffer, ToResponse(id));
        return buffer.WrittenSpan.ToArray();
    }

    public static IEnumerable<ErrorCode> Codes => Enum.GetValues<ErrorCode>().Where(c => c != ErrorCode.None);

    public static ErrorExample For(ErrorCode code) => code switch
    {
        ErrorCode.BadRequest => new(code, "Invalid request line", Target: "http://example.com/a b", KeepAlive: false),
        ErrorCode.ErrInvalidValue => new(code, "Invalid value for rule 'country': 'US' (use a lowercase ISO 3166-1 code, e.g. us)", "CONNECT", "example.com:443", Param: "country"),
        ErrorCode.ErrMissingParams => new(code, Method: "CONNECT", Target: "example.com:443"),
        ErrorCode.ErrUnknownParam => new(code, "Unknown rule 'angeles' (a hyphen inside a value? write city-los_angeles)", "CONNECT", "example.com:443", Param: "angeles"),
        ErrorCode.ErrDuplicateParam => new(code, "Rule 'session' appears twice (sessionid is an alias of session)", "CONNECT", "example.com:443", Param: "session"),
        ErrorCode.ErrInvalidCombination => new(code, "Rule 'bind-node' cannot be combined with 'rotate-timed_N'", "CONNECT", "example.com:443", Param: "rotate"),
        ErrorCode.ErrParamNotAllowed => new(code, "Rule 'network-mob' is not allowed on this package (allowed: res, dc)", "CONNECT", "example.com:443", Param: "network"),
        ErrorCode.Disallowed => new(code, "CONNECT to port 25 is not allowed (allowed: 443, 80, 8443)", "CONNECT", "mail.example.com:25", KeepAlive: false),
        ErrorCode.ErrAuthRequired => new(code, Method: "CONNECT", Target: "example.com:443"),
        ErrorCode.AuthFailed => new(code, "Unknown package key", "CONNECT", "example.com:443"),
        ErrorCode.IpNotAllowed => new(code, "Client address 203.0.113.7 is not on the package's IP allowlist", "CONNECT", "example.com:443"),
        ErrorCode.PackageSuspended => new(code, Method: "CONNECT", Target: "example.com:443"),
        ErrorCode.PackagePaused => new(code, Method: "CONNECT", Target: "example.com:443"),
        ErrorCode.PackageNoCredits => new(code, LimitedBy: LimitedBy.Credits),
        ErrorCode.SessionParamsMismatch => new(code, "Session 'abc123' is locked to country-us; this request asks for country-de", "CONNECT", "example.com:443", Param: "country"),
        ErrorCode.RateLimitExceeded => new(code, "Package limit of 200 requests per second reached", RetryAfterSeconds: 1, LimitedBy: LimitedBy.Rps),
        ErrorCode.TrafficLimitExceeded => new(code, "Package traffic limit of 10 GB is used up", RetryAfterSeconds: 3600, LimitedBy: LimitedBy.Traffic),
        ErrorCode.NodeUnavailable => new(code, "Node up1 refused the connection (onerror-fail)", "CONNECT", "example.com:443", NodeId: "up1"),
        ErrorCode.NodeNotFound => new(code, "No nodes matching country=us, city=los_angeles, network=mob", "CONNECT", "example.com:443", Filters: "country=us, city=los_angeles, network=mob"),
        ErrorCode.RetriesExhausted => new(code, "3 attempts on node up1 and 1 replacement failed", RetryAfterSeconds: 5, NodeId: "s1", Attempts: 4),
        ErrorCode.NameNotResolved => new(code, "node de-squid answered 503 ERR_DNS_FAIL (X-Squid-Error)", Target: "http://example.invalid/",
            NodeId: "de-squid", KeepAlive: false, UpstreamStatus: 503, UpstreamError: "ERR_DNS_FAIL", UpstreamSource: "X-Squid-Error"),
        ErrorCode.TargetConnectFailed => new(code, "Connection refused by 192.0.2.10:443", "CONNECT", "example.com:443", NodeId: "local"),
        ErrorCode.TargetReset => new(code, "Connection reset after 0 bytes of the response head", NodeId: "up1", KeepAlive: false),
        ErrorCode.BoundNodeFailed => new(code, "Session 'abc123' is bound to node s1, which is offline", "CONNECT", "example.com:443", RetryAfterSeconds: 30, NodeId: "s1"),
        ErrorCode.DomainCircuitOpen => new(code, "example.com: 12 of 20 requests failed in the last 5 minutes", RetryAfterSeconds: 60, LimitedBy: LimitedBy.Circuit),
        ErrorCode.Overloaded => new(code, "Connection ceiling of 100000 reached", RetryAfterSeconds: 2, LimitedBy: LimitedBy.Overload, KeepAlive: false),
        ErrorCode.GatewayTimeout => new(code, "No response head from example.com within 30 s", RetryAfterSeconds: 5, NodeId: "up1", KeepAlive: false),
        ErrorCode.NoProxy => new(code, RetryAfterSeconds: 10),
        ErrorCode.WrongUrl => new(code, "Request target '/index.html' has no host name (send the absolute URI to a proxy)", Target: "/index.html"),
        ErrorCode.BuildRequest => new(code, "Node s1 (socks5) cannot carry a plain HTTP request", NodeId: "s1", KeepAlive: false),
        ErrorCode.BuildConnect => new(code, "Node up1 does not support CONNECT", "CONNECT", "example.com:443", NodeId: "up1", KeepAlive: false),
        ErrorCode.SocketError => new(code, "Connection reset by peer while connecting through node up1", "CONNECT", "example.com:443", NodeId: "up1", KeepAlive: false),
        ErrorCode.RequestError => new(code, "Broken pipe while sending the request body", "POST", "http://example.com/upload", NodeId: "local", KeepAlive: false),
        ErrorCode.ResponseError => new(code, "Malformed response head from the target", NodeId: "local", KeepAlive: false),
        ErrorCode.RequestTimeout => new(code, "request head not received within RequestHeadTimeout", KeepAlive: false),
        ErrorCode.UriTooLong => new(code, "Request target exceeds 8192 bytes", Target: "http://example.com/" + new string('a', 600), KeepAlive: false),
        ErrorCode.HeadersTooLarge => new(code, "Request head exceeds 32768 bytes", KeepAlive: false),
        ErrorCode.NotImplemented => new(code, "Transfer-Encoding 'gzip, chunked' is not supported", "POST", "http://example.com/upload", KeepAlive: false),
        ErrorCode.VersionNotSupported => new(code, "HTTP/2.0 request line on an HTTP/1.1 listener", Target: "http://example.com/", KeepAlive: false),
        ErrorCode.WriteError => new(code, KeepAlive: false),
        ErrorCode.InternalError => new(code, KeepAlive: false),
        _ => throw new ArgumentOutOfRangeException(nameof(code)),
    };
}
