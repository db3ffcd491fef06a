using System.Buffers.Text;
using Engine.Auth;
using Engine.Diagnostics;
using Engine.Forwarding;
using Engine.Http;
using Engine.Limits;
using Engine.Rules;
using Engine.Targets;
using Engine.Upstream;

namespace Engine.Errors;

/// <summary>
/// The one table from what a component reports to the catalog: parser rejections, authentication
/// and admission refusals, the target policy, routing and connector results, exchange and relay
/// failures each map here to their <see cref="ErrorCode"/> (and so to status and retry class),
/// their termination state (who × when) and their detail line. No other place picks an error code
/// for a failure; the counterpart of <see cref="RejectReasons"/>, which this table defers to for
/// the request parser's reasons.
/// </summary>
internal static class ProxyFailures
{
    private static TerminationState ProxyAtRequest => new(TerminationCause.Proxy, TerminationPhase.Request);

    private static TerminationState ProxyAtConnect => new(TerminationCause.Proxy, TerminationPhase.Connect);

    private static TerminationState NodeAtConnect => new(TerminationCause.TargetAbort, TerminationPhase.Connect);

    private static TerminationState ResourceAtRequest => new(TerminationCause.Resource, TerminationPhase.Request);

    // ---- The request head ----

    /// <summary>The request parser refused the head (RFC 9112 violations, limits).</summary>
    public static ProxyFailure Rejected(RejectReason reason) =>
        new(RejectReasons.ToErrorCode(reason), ProxyAtRequest, RejectReasons.Detail(reason));

    public static ProxyFailure HeadTimeout => new(ErrorCode.RequestTimeout, new TerminationState(TerminationCause.ClientTimeout, TerminationPhase.Request),
        "request head not received within RequestHeadTimeout"u8);

    public static ProxyFailure OriginForm => new(ErrorCode.WrongUrl, ProxyAtRequest,
        "origin-form request: a proxy needs an absolute URI (http://host/path) or CONNECT host:port"u8);

    public static ProxyFailure NotHttpScheme => new(ErrorCode.WrongUrl, ProxyAtRequest,
        "only http:// URIs are forwarded in absolute form; use CONNECT for https"u8);

    // ---- Authentication and rules ----

    public static ErrorCode Of(AuthOutcome outcome) => outcome switch
    {
        AuthOutcome.Authenticated => ErrorCode.None,
        AuthOutcome.Missing => ErrorCode.ErrAuthRequired,
        AuthOutcome.Malformed or AuthOutcome.UnknownKey => ErrorCode.AuthFailed,
        AuthOutcome.IpNotAllowed => ErrorCode.IpNotAllowed,
        AuthOutcome.Paused => ErrorCode.PackagePaused,
        AuthOutcome.Suspended => ErrorCode.PackageSuspended,
        _ => ErrorCode.Disallowed,
    };

    /// <summary>An authentication refusal; the catalog's default detail says what to do.</summary>
    public static ProxyFailure Refused(ErrorCode authError) => new(authError, ProxyAtRequest, default);

    /// <summary>The targeting rules did not parse; <paramref name="detail"/> is <see cref="RuleError.FormatDetail"/>'s line.</summary>
    public static ProxyFailure Rule(in RuleError error, ReadOnlySpan<byte> rules, ReadOnlySpan<byte> detail) =>
        new(error.Code, ProxyAtRequest, detail) { Param = error.Param.IsEmpty ? default : error.Param.Of(rules) };

    // ---- Admission ----

    public static ProxyFailure Overloaded => new(ErrorCode.Overloaded, ResourceAtRequest,
        "the engine is shedding load (its work queue is long); retry after the Retry-After delay"u8)
    { RetryAfterSeconds = 1, LimitedBy = LimitedBy.Overload };

    /// <summary>Over <c>Limits:MaxConnections</c>: answered without reading the request.</summary>
    public static ProxyFailure ConnectionCeiling => new(ErrorCode.Overloaded, ResourceAtRequest, "connection ceiling reached (Limits:MaxConnections)"u8)
    { RetryAfterSeconds = 1, LimitedBy = LimitedBy.Overload };

    /// <summary>The SOCKS5 handshake did not complete within RequestHeadTimeout (or shutdown cut it).</summary>
    public static ErrorCode HandshakeTimeout => ErrorCode.RequestTimeout;

    /// <summary>What a refused rule is: the rule language's problem → its catalog code.</summary>
    public static ErrorCode Of(RuleProblem problem) => problem switch
    {
        RuleProblem.None => ErrorCode.None,
        RuleProblem.EmptyUsername => ErrorCode.ErrMissingParams,
        RuleProblem.UnknownName => ErrorCode.ErrUnknownParam,
        RuleProblem.Duplicate or RuleProblem.AliasDuplicate => ErrorCode.ErrDuplicateParam,
        RuleProblem.BindWithoutSession or RuleProblem.SessionLengthWithoutSession or RuleProblem.IdleTtlWithoutSession
            or RuleProblem.RotateWithoutSession or RuleProblem.BindWithRotate or RuleProblem.BindWithOnErrorReplace
            or RuleProblem.BindWithPreferLookalike or RuleProblem.RotateTimedWithRequests => ErrorCode.ErrInvalidCombination,
        RuleProblem.RuleNotAllowed or RuleProblem.NetworkNotAllowed => ErrorCode.ErrParamNotAllowed,
        _ => ErrorCode.ErrInvalidValue,
    };

    public static ProxyFailure Of(Admission verdict, int retryAfterSeconds) => verdict switch
    {
        Admission.NoCredits => new(ErrorCode.PackageNoCredits, ResourceAtRequest,
            "the organisation's credit pool (Credits:PoolBytes) is used up; add credits"u8) { LimitedBy = LimitedBy.Credits },
        // A cap with a TrafficPeriod resets: the limiter's wait is the seconds until it does. A lifetime cap
        // passes -1, and its 429 carries no Retry-After (waiting does not lift it).
        Admission.TrafficExceeded => new(ErrorCode.TrafficLimitExceeded, ResourceAtRequest,
            "this package's traffic cap (TrafficLimitBytes) is used up"u8) { RetryAfterSeconds = retryAfterSeconds, LimitedBy = LimitedBy.Traffic },
        Admission.TooManyConcurrent => new(ErrorCode.RateLimitExceeded, ResourceAtRequest,
            "too many requests and tunnels of this package in flight (MaxConcurrent)"u8) { RetryAfterSeconds = retryAfterSeconds, LimitedBy = LimitedBy.Concurrency },
        _ => new(ErrorCode.RateLimitExceeded, ResourceAtRequest,
            "this package's request rate (RequestsPerSecond) is exceeded"u8) { RetryAfterSeconds = retryAfterSeconds, LimitedBy = LimitedBy.Rps },
    };

    public static ProxyFailure CircuitOpen(int retryAfterSeconds) => new(ErrorCode.DomainCircuitOpen, ProxyAtRequest,
        "too many requests to this domain failed recently; its circuit is open until the cool-down ends"u8)
    { RetryAfterSeconds = retryAfterSeconds, LimitedBy = LimitedBy.Circuit };

    /// <summary>A tunnel or body cut because the traffic ran out: which limit.</summary>
    public static ErrorCode TrafficCut(bool creditPoolEmpty) => creditPoolEmpty ? ErrorCode.PackageNoCredits : ErrorCode.TrafficLimitExceeded;

    // ---- Target policy ----

    /// <summary>Ports and the blocklist, checked on the name before anything is resolved; <paramref name="buffer"/> holds a formatted detail.</summary>
    public static ProxyFailure Of(PolicyVerdict verdict, int port, Span<byte> buffer)
    {
        ReadOnlySpan<byte> detail = verdict switch
        {
            PolicyVerdict.PortNotAllowed => PortNotAllowedDetail("CONNECT to port "u8, port, " is not allowed (Security:AllowedConnectPorts)"u8, buffer),
            PolicyVerdict.HttpPortNotAllowed => PortNotAllowedDetail("HTTP to port "u8, port, " is not allowed (Security:AllowedHttpPorts)"u8, buffer),
            PolicyVerdict.BlockedDomain => "the target domain is on the blocklist (Security:BlockedDomains)"u8,
            _ => default,
        };
        return new ProxyFailure(ErrorCode.Disallowed, ProxyAtRequest, detail);
    }

    /// <summary>Room <see cref="Of(PolicyVerdict, int, Span{byte})"/> needs for its detail.</summary>
    public const int PolicyDetailLength = 96;

    private static ReadOnlySpan<byte> PortNotAllowedDetail(ReadOnlySpan<byte> head, int port, ReadOnlySpan<byte> tail, Span<byte> buffer)
    {
        head.CopyTo(buffer);
        int n = head.Length;
        Utf8Formatter.TryFormat(port, buffer[n..], out int written);
        n += written;
        tail.CopyTo(buffer[n..]);
        return buffer[..(n + tail.Length)];
    }

    // ---- Routing and connecting ----

    /// <summary>A routing refusal (<see cref="RouteStatus.NoMatch"/> is <see cref="NoMatch"/>: it needs the filters).</summary>
    public static ProxyFailure Of(in RouteResult route, bool isConnect, int attempts) => route.Status switch
    {
        RouteStatus.SessionMismatch => new(ErrorCode.SessionParamsMismatch, ProxyAtRequest,
            "this session id is in use with different rules; keep the rules of its first request or use a new session id"u8),
        RouteStatus.BoundNodeGone => new(ErrorCode.BoundNodeFailed, ProxyAtConnect,
            "the session's bound node is no longer in the pool and bind-node forbids a replacement; start a new session id"u8),
        RouteStatus.BoundNodeFailed => new(ErrorCode.BoundNodeFailed, NodeAtConnect,
            "the session's bound node failed and bind-node forbids a replacement; start a new session id"u8),
        RouteStatus.NodeFailed => NodeFailure(route.Connect.Status),
        RouteStatus.RetriesExhausted => new(ErrorCode.RetriesExhausted, NodeAtConnect,
            "the session's node failed every onerror-retry attempt and its replacement failed too"u8) { Attempts = attempts },
        RouteStatus.NoNodeLeft => new(ErrorCode.NodeUnavailable, ProxyAtConnect,
            "the chosen node failed and no other matching node is available; retry later"u8),
        RouteStatus.NoProxy => new(ErrorCode.NoProxy, ProxyAtConnect,
            "no node in the pool is online (every node is failing or cooling down)"u8),
        RouteStatus.NoneAvailable => new(ErrorCode.NodeUnavailable, ProxyAtConnect,
            "every node matching the rules is failing, cooling down or banned for this site; retry later"u8),
        _ => Connect(route.Connect, isConnect),
    };

    /// <summary>No node matches the rules: <c>No nodes matching country=us, city=x</c>, written into <paramref name="buffer"/>.</summary>
    public static ProxyFailure NoMatch(ReadOnlySpan<byte> filters, Span<byte> buffer)
    {
        ReadOnlySpan<byte> lead = "No nodes matching "u8;
        lead.CopyTo(buffer);
        int n = Math.Min(filters.Length, buffer.Length - lead.Length);
        filters[..n].CopyTo(buffer[lead.Length..]);
        return new ProxyFailure(ErrorCode.NodeNotFound, ProxyAtConnect, buffer[..(lead.Length + n)]) { Filters = filters };
    }

    /// <summary>A node failed and no replacement is allowed.</summary>
    public static ProxyFailure NodeFailure(ConnectStatus status) => new(ErrorCode.NodeUnavailable, NodeAtConnect, status switch
    {
        ConnectStatus.NodeAuthFailed => "the upstream node rejected the engine's credentials"u8,
        ConnectStatus.NodeProtocolError => "the upstream node answered something that is not its protocol"u8,
        _ => "the node refused, reset or did not accept the connection"u8,
    });

    /// <summary>
    /// Whether a refused route ends on a node's own error answer that is answered translated (<see cref="NodeAnswered"/>)
    /// rather than by the route's status: the node refused, or the target failed behind it. A node's 407 keeps its
    /// credentials detail; RETRIES_EXHAUSTED and the binding refusals keep their codes (the answer still rides along).
    /// </summary>
    public static bool IsTranslated(in RouteResult route) =>
        route.Connect.NodeAnswer.IsError && route.Connect.Status != ConnectStatus.NodeAuthFailed
            && route.Status is RouteStatus.NodeFailed or RouteStatus.TargetFailed;

    /// <summary>Room <see cref="NodeAnswered"/> needs for its detail (NodeAnswerClassifier.WriteDetail).</summary>
    public const int NodeAnswerDetailLength = 160;

    /// <summary>
    /// A node's own error answer, translated: <see cref="NodeAnswerClassifier"/> chose the code (target failure, or
    /// the node's), the detail quotes the node (<c>node de-squid answered 503 ERR_DNS_FAIL (X-Squid-Error)</c>), and
    /// the request carries the answer for the <c>upstream</c> member and the log line.
    /// </summary>
    public static ProxyFailure NodeAnswered(in NodeAnswer answer, ReadOnlySpan<byte> nodeId, Span<byte> buffer)
    {
        ErrorCode code = answer.Code;
        TerminationCause cause = code switch
        {
            ErrorCode.GatewayTimeout => TerminationCause.TargetTimeout,
            ErrorCode.BuildRequest or ErrorCode.BuildConnect => TerminationCause.Proxy,
            _ => TerminationCause.TargetAbort,
        };
        // Name and connect failures happen before the target speaks; the rest while its answer was awaited.
        TerminationPhase phase = code is ErrorCode.TargetReset or ErrorCode.GatewayTimeout or ErrorCode.ResponseError or ErrorCode.RequestError
            ? TerminationPhase.Headers
            : TerminationPhase.Connect;
        int length = NodeAnswerClassifier.WriteDetail(buffer, answer, nodeId);
        return new ProxyFailure(code, new TerminationState(cause, phase), buffer[..length]);
    }

    /// <summary>A failed connect, naming who failed and when.</summary>
    public static ProxyFailure Connect(ConnectResult connect, bool isConnect)
    {
        (ErrorCode code, TerminationCause cause) = connect.Status switch
        {
            ConnectStatus.Disallowed => (ErrorCode.Disallowed, TerminationCause.Proxy),
            ConnectStatus.NameNotResolved => (ErrorCode.NameNotResolved, TerminationCause.TargetAbort),
            ConnectStatus.Refused => (ErrorCode.TargetConnectFailed, TerminationCause.TargetAbort),
            ConnectStatus.TimedOut => (ErrorCode.GatewayTimeout, TerminationCause.TargetTimeout),
            ConnectStatus.NodeCannotCarry => (isConnect ? ErrorCode.BuildConnect : ErrorCode.BuildRequest, TerminationCause.Proxy),
            ConnectStatus.Aborted => (ErrorCode.Overloaded, TerminationCause.Killed),
            ConnectStatus.OutOfSockets => (ErrorCode.Overloaded, TerminationCause.Resource),
            _ => (ErrorCode.NodeUnavailable, TerminationCause.TargetAbort),
        };
        return new ProxyFailure(code, new TerminationState(cause, TerminationPhase.Connect), ConnectDetail(connect.Status, connect.AddressClass));
    }

    private static ReadOnlySpan<byte> ConnectDetail(ConnectStatus status, AddressClass addressClass) => status switch
    {
        ConnectStatus.Disallowed => ForbiddenAddressDetail(addressClass),
        ConnectStatus.NameNotResolved => "the target host name does not resolve"u8,
        ConnectStatus.Refused => "the target refused the connection or was unreachable"u8,
        ConnectStatus.TimedOut => "no connection to the target within ConnectTimeout"u8,
        ConnectStatus.NodeAuthFailed => "the upstream node rejected the engine's credentials"u8,
        ConnectStatus.NodeCannotCarry => "the chosen node cannot carry this request (its upstream refused the command or address type)"u8,
        ConnectStatus.Aborted => "the engine is shutting down"u8,
        ConnectStatus.OutOfSockets => "the engine could not open a socket to the target (out of descriptors or socket memory)"u8,
        _ => "the chosen node failed while the connection was set up"u8,
    };

    private static ReadOnlySpan<byte> ForbiddenAddressDetail(AddressClass addressClass) => addressClass switch
    {
        AddressClass.Loopback => "the target resolves to a loopback address (Security:AllowPrivateTargets is off)"u8,
        AddressClass.Private => "the target resolves to a private address (Security:AllowPrivateTargets is off)"u8,
        AddressClass.LinkLocal => "the target resolves to a link-local address (Security:AllowPrivateTargets is off)"u8,
        AddressClass.Metadata => "the target resolves to a cloud metadata address (Security:AllowPrivateTargets is off)"u8,
        AddressClass.Local => "the target resolves to an address of the proxy host itself (Security:AllowPrivateTargets is off)"u8,
        AddressClass.Multicast => "the target resolves to a multicast address"u8,
        AddressClass.Unspecified => "the target resolves to an unspecified address"u8,
        _ => "the target resolves to a reserved address (Security:AllowPrivateTargets is off)"u8,
    };

    /// <summary>An unexpected fault inside the engine: answered when nothing was sent yet, always logged with the exception.</summary>
    public static ProxyFailure Internal => new(ErrorCode.InternalError, new TerminationState(TerminationCause.Proxy, TerminationPhase.Request),
        "an unexpected fault inside the proxy; it has been logged with this correlation id"u8);

    // ---- After the answer started ----

    /// <summary>
    /// A response or tunnel cut after its head or 200 went out cannot be answered in-band; its line
    /// carries this code (errors.md: sampling never drops it, and AccessLog:Level = errors keeps
    /// it). A cut at the shutdown's drain deadline is OVERLOADED ("draining for shutdown"). None:
    /// the end was normal, or an idle timeout, whose termination state says enough.
    /// </summary>
    public static ErrorCode AfterAnswerStarted(TerminationState termination, ExchangeFailure failure) => termination.Cause switch
    {
        TerminationCause.TargetAbort => failure == ExchangeFailure.ResponseMalformed ? ErrorCode.ResponseError : ErrorCode.TargetReset,
        TerminationCause.TargetTimeout => ErrorCode.GatewayTimeout,
        TerminationCause.ClientAbort => ErrorCode.WriteError,
        TerminationCause.Killed => ErrorCode.Overloaded,
        _ => ErrorCode.None,
    };

    // ---- The exchange ----

    /// <summary>An exchange that failed before the client saw a response byte (<see cref="ExchangeOutcome.Failed"/>).</summary>
    public static ProxyFailure Of(in ExchangeResult result) => result.Termination.Cause == TerminationCause.Killed
        ? new(ErrorCode.Overloaded, result.Termination, "the engine is shutting down: the drain deadline passed before the target's answer"u8)
        : result.Failure switch
    {
        // The same answers the head parser gives for the same faults (malformed.md #12; 431 for an oversized trailer section).
        ExchangeFailure.ClientFraming => Rejected(result.ClientFramingError.ToRejectReason()),
        ExchangeFailure.RequestSendFailed => new(ErrorCode.RequestError, result.Termination, "the target closed the connection while the request was sent"u8),
        ExchangeFailure.TargetClosedDuringUpload => new(ErrorCode.RequestError, result.Termination, "the target closed the connection while the request body was sent"u8),
        ExchangeFailure.ResponseHeadTimeout => new(ErrorCode.GatewayTimeout, result.Termination, "no response head from the target within ResponseHeadTimeout"u8),
        ExchangeFailure.ResponseMalformed => new(ErrorCode.ResponseError, result.Termination, "the target sent a malformed response head"u8),
        _ => new(ErrorCode.TargetReset, result.Termination, "the target closed the connection before a complete response head"u8),
    };
}
