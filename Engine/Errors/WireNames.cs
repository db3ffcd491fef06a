namespace Engine.Errors;

/// <summary>The on-the-wire spelling of the catalog's small enums (string literals: nothing is allocated).</summary>
public static class WireNames
{
    public static string Of(RetryClass value) => value switch
    {
        RetryClass.Retry => "retry",
        RetryClass.Backoff => "backoff",
        RetryClass.Fix => "fix",
        RetryClass.Abort => "abort",
        _ => throw new ArgumentOutOfRangeException(nameof(value)),
    };

    public static string Of(LimitedBy value) => value switch
    {
        LimitedBy.None => "",
        LimitedBy.Rps => "rps",
        LimitedBy.Concurrency => "concurrency",
        LimitedBy.Traffic => "traffic",
        LimitedBy.Credits => "credits",
        LimitedBy.Circuit => "circuit",
        LimitedBy.Overload => "overload",
        _ => throw new ArgumentOutOfRangeException(nameof(value)),
    };

    public static string Of(ProxyStatusError value) => value switch
    {
        ProxyStatusError.DnsError => "dns_error",
        ProxyStatusError.DestinationNotFound => "destination_not_found",
        ProxyStatusError.DestinationUnavailable => "destination_unavailable",
        ProxyStatusError.DestinationIpProhibited => "destination_ip_prohibited",
        ProxyStatusError.ConnectionRefused => "connection_refused",
        ProxyStatusError.ConnectionTerminated => "connection_terminated",
        ProxyStatusError.ConnectionTimeout => "connection_timeout",
        ProxyStatusError.ConnectionLimitReached => "connection_limit_reached",
        ProxyStatusError.HttpRequestError => "http_request_error",
        ProxyStatusError.HttpRequestDenied => "http_request_denied",
        ProxyStatusError.HttpResponseIncomplete => "http_response_incomplete",
        ProxyStatusError.ProxyInternalError => "proxy_internal_error",
        ProxyStatusError.ProxyConfigurationError => "proxy_configuration_error",
        _ => throw new ArgumentOutOfRangeException(nameof(value)),
    };
}
