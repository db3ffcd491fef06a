using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using C = Engine.Errors.ErrorCategory;
using P = Engine.Errors.ProxyStatusError;
using R = Engine.Errors.RetryClass;
using S = Engine.Errors.Socks5Reply;
using T = Engine.Errors.ErrorTraits;

namespace Engine.Errors;

/// <summary>
/// The error catalog of spec/errors.md as data: one row per <see cref="ErrorCode"/>, looked up by index.
/// Every column a caller switches on lives here, so a code's behaviour is read in one place.
/// </summary>
public static class ErrorCatalog
{
    // Scrapoxy documents 557 for the engine's own failures; the phrase is ours (no registered one exists).
    private const string ProxyError = "Proxy Error";

    // retryAfter: the Retry-After sent when the caller knows no better wait (spec: every 503, 557 NO_PROXY and
    // every backoff code carries one). 1 s where a slot frees at any moment (rate, overload); 10 s where a node
    // must come back (NodeHealthPolicy ejects for 10 s first); 2-5 s for the 502/504 backoff codes. The limiter
    // and the breaker pass their own exact waits.
    private static readonly ErrorDescriptor[] s_rows = Build(
    [
        //  code                              status reason                              CODE                       category      retry      Proxy-Status                SOCKS5 reply               traits                                      title, default detail
        new(ErrorCode.BadRequest,             400, "Bad Request",                     "BAD_REQUEST",             C.Protocol,   R.Fix,     P.HttpRequestError,         S.GeneralFailure,          T.None,                                     "Bad request",                 "Malformed HTTP/1.1 request"),
        new(ErrorCode.ErrInvalidValue,        400, "Bad Request",                     "ERR_INVALID_VALUE",       C.Validation, R.Fix,     P.HttpRequestError,         S.NotAllowedByRuleset,     T.Socks5AuthFailure,                        "Invalid rule value",          "A targeting rule in the username has an invalid value"),
        new(ErrorCode.ErrMissingParams,       400, "Bad Request",                     "ERR_MISSING_PARAMS",      C.Validation, R.Fix,     P.HttpRequestError,         S.NotAllowedByRuleset,     T.Socks5AuthFailure,                        "Missing targeting rules",     "No targeting rule in the username (use country-any for any location)"),
        new(ErrorCode.ErrUnknownParam,        400, "Bad Request",                     "ERR_UNKNOWN_PARAM",       C.Validation, R.Fix,     P.HttpRequestError,         S.NotAllowedByRuleset,     T.Socks5AuthFailure,                        "Unknown rule",                "Unrecognised targeting rule in the username (a hyphen inside a value?)"),
        new(ErrorCode.ErrDuplicateParam,      400, "Bad Request",                     "ERR_DUPLICATE_PARAM",     C.Validation, R.Fix,     P.HttpRequestError,         S.NotAllowedByRuleset,     T.Socks5AuthFailure,                        "Duplicate rule",              "The same targeting rule appears twice in the username"),
        new(ErrorCode.ErrInvalidCombination,  400, "Bad Request",                     "ERR_INVALID_COMBINATION", C.Validation, R.Fix,     P.HttpRequestError,         S.NotAllowedByRuleset,     T.Socks5AuthFailure,                        "Invalid rule combination",    "These targeting rules contradict each other"),
        new(ErrorCode.ErrParamNotAllowed,     400, "Bad Request",                     "ERR_PARAM_NOT_ALLOWED",   C.Validation, R.Fix,     P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.Socks5AuthFailure,                        "Rule not allowed",            "This targeting rule is not permitted on your package"),
        new(ErrorCode.Disallowed,             403, "Forbidden",                       "DISALLOWED",              C.Policy,     R.Abort,   P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.None,                                     "Disallowed",                  "The request is not allowed by policy"),
        new(ErrorCode.ErrAuthRequired,        407, "Proxy Authentication Required",   "ERR_AUTH_REQUIRED",       C.Auth,       R.Fix,     P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.ProxyAuthenticate | T.Socks5AuthFailure,  "Proxy authentication required", "Proxy credentials are required (Proxy-Authorization: Basic)"),
        new(ErrorCode.AuthFailed,             407, "Proxy Authentication Required",   "AUTH_FAILED",             C.Auth,       R.Fix,     P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.ProxyAuthenticate | T.Socks5AuthFailure,  "Authentication failed",   "Invalid proxy credentials"),
        new(ErrorCode.IpNotAllowed,           407, "Proxy Authentication Required",   "IP_NOT_ALLOWED",          C.Auth,       R.Fix,     P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.ProxyAuthenticate | T.Socks5AuthFailure,  "IP not allowed",          "Your IP address is not on the package's allowlist"),
        new(ErrorCode.PackageSuspended,       407, "Proxy Authentication Required",   "PACKAGE_SUSPENDED",       C.Account,    R.Abort,   P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.ProxyAuthenticate | T.Socks5AuthFailure,  "Package suspended",       "The package is suspended"),
        new(ErrorCode.PackagePaused,          407, "Proxy Authentication Required",   "PACKAGE_PAUSED",          C.Account,    R.Abort,   P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.ProxyAuthenticate | T.Socks5AuthFailure,  "Package paused",          "The package is paused"),
        new(ErrorCode.PackageNoCredits,       407, "Proxy Authentication Required",   "PACKAGE_NO_CREDITS",      C.Account,    R.Abort,   P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.ProxyAuthenticate,                        "No credits",              "The shared credit pool is empty"),
        new(ErrorCode.SessionParamsMismatch,  409, "Conflict",                        "SESSION_PARAMS_MISMATCH", C.Session,    R.Fix,     P.HttpRequestError,         S.NotAllowedByRuleset,     T.None,                                     "Session rules mismatch",      "This session id is already in use with different rules"),
        new(ErrorCode.RateLimitExceeded,      429, "Too Many Requests",               "RATE_LIMIT_EXCEEDED",     C.Limit,      R.Backoff, P.ConnectionLimitReached,   S.NotAllowedByRuleset,     T.RetryAfter,                               "Rate limit exceeded",         "The package's request rate or concurrency limit is reached", retryAfter: 1),
        new(ErrorCode.TrafficLimitExceeded,   429, "Too Many Requests",               "TRAFFIC_LIMIT_EXCEEDED",  C.Limit,      R.Abort,   P.HttpRequestDenied,        S.NotAllowedByRuleset,     T.RetryAfter,                               "Traffic limit exceeded",      "The package's traffic limit is used up"),
        new(ErrorCode.NodeUnavailable,        502, "Bad Gateway",                     "NODE_UNAVAILABLE",        C.Node,       R.Retry,   P.DestinationUnavailable,   S.NetworkUnreachable,      T.None,                                     "Node unavailable",            "The chosen node is unavailable"),
        new(ErrorCode.NodeNotFound,           502, "Bad Gateway",                     "NODE_NOT_FOUND",          C.Node,       R.Fix,     P.DestinationNotFound,      S.NetworkUnreachable,      T.None,                                     "No matching node",            "No nodes match the requested filters"),
        new(ErrorCode.RetriesExhausted,       502, "Bad Gateway",                     "RETRIES_EXHAUSTED",       C.Node,       R.Backoff, P.DestinationUnavailable,   S.NetworkUnreachable,      T.RetryAfter,                               "Retries exhausted",           "Every attempt and the replacement node failed", retryAfter: 5),
        new(ErrorCode.NameNotResolved,        502, "Bad Gateway",                     "NAME_NOT_RESOLVED",       C.Target,     R.Abort,   P.DnsError,                 S.HostUnreachable,         T.None,                                     "Name not resolved",           "The target host name does not resolve"),
        new(ErrorCode.TargetConnectFailed,    502, "Bad Gateway",                     "TARGET_CONNECT_FAILED",   C.Target,     R.Retry,   P.ConnectionRefused,        S.ConnectionRefused,       T.None,                                     "Target connection failed",    "The target refused the connection or is unreachable"),
        new(ErrorCode.TargetReset,            502, "Bad Gateway",                     "TARGET_RESET",            C.Target,     R.Retry,   P.ConnectionTerminated,     S.GeneralFailure,          T.None,                                     "Target reset",                "The target closed the connection before a complete response head"),
        new(ErrorCode.BoundNodeFailed,        503, "Service Unavailable",             "BOUND_NODE_FAILED",       C.Binding,    R.Fix,     P.DestinationUnavailable,   S.NetworkUnreachable,      T.RetryAfter,                               "Bound node failed",           "The session's bound node failed and replacement is not allowed", retryAfter: 10),
        new(ErrorCode.DomainCircuitOpen,      503, "Service Unavailable",             "DOMAIN_CIRCUIT_OPEN",     C.Resilience, R.Backoff, P.DestinationUnavailable,   S.HostUnreachable,         T.RetryAfter,                               "Domain circuit open",         "Too many recent failures for this target domain; requests to it are paused", retryAfter: 10),
        new(ErrorCode.Overloaded,             503, "Service Unavailable",             "OVERLOADED",              C.Capacity,   R.Backoff, P.ConnectionLimitReached,   S.GeneralFailure,          T.RetryAfter,                               "Overloaded",                  "The proxy is at capacity or shutting down", retryAfter: 1),
        new(ErrorCode.GatewayTimeout,         504, "Gateway Timeout",                 "GATEWAY_TIMEOUT",         C.Timeout,    R.Backoff, P.ConnectionTimeout,        S.TtlExpired,              T.RetryAfter,                               "Gateway timeout",             "The target did not answer in time", retryAfter: 2),
        new(ErrorCode.NoProxy,                557, ProxyError,                        "NO_PROXY",                C.Engine,     R.Backoff, P.DestinationUnavailable,   S.NetworkUnreachable,      T.RetryAfter,                               "No proxy",                    "No node is online", retryAfter: 10),
        new(ErrorCode.WrongUrl,               557, ProxyError,                        "WRONG_URL",               C.Engine,     R.Fix,     P.HttpRequestError,         S.AddressTypeNotSupported, T.None,                                     "Wrong URL",                   "The request target is empty or has no host name"),
        new(ErrorCode.BuildRequest,           557, ProxyError,                        "BUILD_REQUEST",           C.Engine,     R.Retry,   P.ProxyConfigurationError,  S.GeneralFailure,          T.None,                                     "Cannot build request",        "The chosen node cannot carry this HTTP request"),
        new(ErrorCode.BuildConnect,           557, ProxyError,                        "BUILD_CONNECT",           C.Engine,     R.Retry,   P.ProxyConfigurationError,  S.GeneralFailure,          T.None,                                     "Cannot build tunnel",         "The chosen node cannot carry this tunnel"),
        new(ErrorCode.SocketError,            557, ProxyError,                        "SOCKET_ERROR",            C.Engine,     R.Retry,   P.ConnectionTerminated,     S.GeneralFailure,          T.None,                                     "Socket error",                "The relay socket failed while the tunnel was being set up"),
        new(ErrorCode.RequestError,           557, ProxyError,                        "REQUEST_ERROR",           C.Engine,     R.Retry,   P.ConnectionTerminated,     S.GeneralFailure,          T.None,                                     "Request error",               "Sending the request to the target failed before a response began"),
        new(ErrorCode.ResponseError,          557, ProxyError,                        "RESPONSE_ERROR",          C.Engine,     R.Retry,   P.HttpResponseIncomplete,   S.GeneralFailure,          T.None,                                     "Response error",              "Receiving the response from the target failed before its head was relayed"),
        new(ErrorCode.UriTooLong,             414, "URI Too Long",                    "URI_TOO_LONG",            C.Protocol,   R.Fix,     P.HttpRequestError,         S.GeneralFailure,          T.None,                                     "URI too long",                "The request target is too long"),
        new(ErrorCode.RequestTimeout,         408, "Request Timeout",                 "REQUEST_TIMEOUT",         C.Protocol,   R.Fix,     P.HttpRequestError,         S.GeneralFailure,          T.None,                                     "Request timeout",             "The request head did not arrive in time"),
        new(ErrorCode.HeadersTooLarge,        431, "Request Header Fields Too Large", "HEADERS_TOO_LARGE",       C.Protocol,   R.Fix,     P.HttpRequestError,         S.GeneralFailure,          T.None,                                     "Headers too large",           "The request head is too large"),
        new(ErrorCode.NotImplemented,         501, "Not Implemented",                 "NOT_IMPLEMENTED",         C.Protocol,   R.Fix,     P.HttpRequestError,         S.CommandNotSupported,     T.None,                                     "Not implemented",             "The method or transfer coding is not supported"),
        new(ErrorCode.VersionNotSupported,    505, "HTTP Version Not Supported",      "VERSION_NOT_SUPPORTED",   C.Protocol,   R.Fix,     P.HttpRequestError,         S.GeneralFailure,          T.None,                                     "HTTP version not supported",  "Only HTTP/1.1 and HTTP/1.0 are supported"),
        new(ErrorCode.InternalError,          500, "Internal Server Error",           "INTERNAL_ERROR",          C.Engine,     R.Retry,   P.ProxyInternalError,       S.GeneralFailure,          T.None,                                     "Internal error",              "An unexpected fault inside the proxy; it has been logged with this correlation id"),
        new(ErrorCode.WriteError,             557, ProxyError,                        "WRITE_ERROR",             C.Client,     R.Retry,   P.ProxyInternalError,       S.GeneralFailure,          T.LogOnly,                                  "Write error",                 "The client closed the connection before the response was written"),
    ]);

    /// <summary>Every row, indexed by <see cref="ErrorCode"/>; index 0 (None) is null.</summary>
    public static ReadOnlySpan<ErrorDescriptor> All => s_rows;

    /// <summary>The catalog row of <paramref name="code"/>.</summary>
    public static ErrorDescriptor Get(ErrorCode code)
    {
        ErrorDescriptor[] rows = s_rows;
        uint index = (uint)code;
        if (index - 1 >= (uint)rows.Length - 1)
        {
            ThrowUnknown(code);
        }

        return rows[index];
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowUnknown(ErrorCode code) =>
        throw new ArgumentOutOfRangeException(nameof(code), code, "Not a catalog error code.");

    private static ErrorDescriptor[] Build(ErrorDescriptor[] rows)
    {
        ErrorCode[] codes = Enum.GetValues<ErrorCode>();
        var table = new ErrorDescriptor[codes.Length];
        foreach (ErrorDescriptor row in rows)
        {
            int index = (int)row.Code;
            if (index <= 0 || index >= table.Length || table[index] is not null)
            {
                throw new InvalidOperationException($"Error catalog: {row.Code} is out of range or listed twice.");
            }

            table[index] = row;
        }

        for (int i = 1; i < table.Length; i++)
        {
            if (table[i] is null)
            {
                throw new InvalidOperationException($"Error catalog: {(ErrorCode)i} has no row.");
            }
        }

        return table;
    }
}
