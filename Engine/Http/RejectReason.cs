namespace Engine.Http;

/// <summary>
/// Why a request was refused. Each member maps to one catalog code and one detail line in
/// <see cref="RejectReasons"/>; tests assert these, not message text.
/// </summary>
internal enum RejectReason : byte
{
    None = 0,

    // Request line (RFC 9112 §3).
    InvalidRequestLine,
    InvalidMethod,
    InvalidTarget,
    TargetUserinfo,
    EmptyHost,
    ConnectWithoutPort,
    InvalidPort,
    ConnectNotAuthorityForm,
    AuthorityFormNotConnect,
    AsteriskNotOptions,
    InvalidVersion,
    UnsupportedVersion,
    RequestLineTooLong,
    TooManyEmptyLines,

    // Field lines (RFC 9112 §5, RFC 9110 §5).
    HeadTooLarge,
    TooManyHeaders,
    WhitespaceAfterRequestLine,
    WhitespaceBeforeColon,
    ObsFold,
    BareCR,
    BareLF,
    InvalidHeaderName,
    InvalidHeaderValue,
    UnderscoreFramingName,

    // Host (RFC 9112 §3.2).
    MissingHost,
    DuplicateHost,
    InvalidHost,

    // Framing (RFC 9112 §6).
    ContentLengthAndTransferEncoding,
    InvalidContentLength,
    ConflictingContentLength,
    TransferEncodingHttp10,
    TransferEncodingNotChunkedLast,
    ChunkedTwice,
    UnknownTransferCoding,

    // Chunked body (RFC 9112 §7.1).
    InvalidChunkSize,
    ChunkSizeOverflow,
    InvalidChunkExtension,
    ChunkExtensionTooLong,
    MissingChunkCrlf,
    TrailerTooLarge,

    // Connection management (RFC 9112 §9.6).
    DataAfterClose,
}
