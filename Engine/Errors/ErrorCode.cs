namespace Engine.Errors;

/// <summary>
/// Every error the engine itself answers with. The names are the public contract of
/// ../shared/spec/errors.md (the CODE column): never rename a member, never reuse one.
/// </summary>
public enum ErrorCode : byte
{
    None = 0,

    // 400 Protocol / Validation
    BadRequest,
    ErrInvalidValue,
    ErrMissingParams,
    ErrUnknownParam,
    ErrDuplicateParam,
    ErrInvalidCombination,
    ErrParamNotAllowed,

    // 403 Policy
    Disallowed,

    // 407 Auth / Account
    ErrAuthRequired,
    AuthFailed,
    IpNotAllowed,
    PackageSuspended,
    PackagePaused,
    PackageNoCredits,

    // 409 Session
    SessionParamsMismatch,

    // 429 Limit
    RateLimitExceeded,
    TrafficLimitExceeded,

    // 502 Node / Target
    NodeUnavailable,
    NodeNotFound,
    RetriesExhausted,
    NameNotResolved,
    TargetConnectFailed,
    TargetReset,

    // 503
    BoundNodeFailed,
    DomainCircuitOpen,
    Overloaded,

    // 504
    GatewayTimeout,

    // 557 Engine
    NoProxy,
    WrongUrl,
    BuildRequest,
    BuildConnect,
    SocketError,
    RequestError,
    ResponseError,

    // Standard statuses HTTP calls for, with a CODE of the same form.
    UriTooLong,
    /// <summary>408 REQUEST_TIMEOUT: the request head did not arrive within RequestHeadTimeout (slowloris).</summary>
    RequestTimeout,
    HeadersTooLarge,
    NotImplemented,
    VersionNotSupported,

    // Only logged: the client went away, nothing can be answered.
    WriteError,

    /// <summary>500 INTERNAL_ERROR: an unexpected fault inside the engine, answered when nothing was sent yet and always logged.</summary>
    InternalError,
}
