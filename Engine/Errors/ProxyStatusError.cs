namespace Engine.Errors;

/// <summary>
/// The RFC 9209 §2.3 error types the engine uses in <c>Proxy-Status: name; error=TYPE</c>.
/// Only the types some catalog code maps to are listed; the mapping is documented in docs/errors.md.
/// </summary>
public enum ProxyStatusError : byte
{
    /// <summary>dns_error: the target host name did not resolve.</summary>
    DnsError,

    /// <summary>destination_not_found: no next hop could be determined (no node matches).</summary>
    DestinationNotFound,

    /// <summary>destination_unavailable: the next hop is considered down (recent failures, health).</summary>
    DestinationUnavailable,

    /// <summary>destination_ip_prohibited.</summary>
    DestinationIpProhibited,

    /// <summary>connection_refused.</summary>
    ConnectionRefused,

    /// <summary>connection_terminated: closed before any part of the response arrived.</summary>
    ConnectionTerminated,

    /// <summary>connection_timeout.</summary>
    ConnectionTimeout,

    /// <summary>connection_limit_reached.</summary>
    ConnectionLimitReached,

    /// <summary>http_request_error: the client's request is in error.</summary>
    HttpRequestError,

    /// <summary>http_request_denied: refused by configuration or policy.</summary>
    HttpRequestDenied,

    /// <summary>http_response_incomplete: part of the response arrived, then it failed.</summary>
    HttpResponseIncomplete,

    /// <summary>proxy_internal_error.</summary>
    ProxyInternalError,

    /// <summary>proxy_configuration_error.</summary>
    ProxyConfigurationError,
}
