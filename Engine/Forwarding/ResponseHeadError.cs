namespace Engine.Forwarding;

/// <summary>Why an upstream response head was rejected. Each is a 502 to the client (RFC 9112 §6.3 item 5 for framing).</summary>
internal enum ResponseHeadError : byte
{
    None,
    HeadTooLarge,
    TooManyHeaders,
    BareLineFeed,
    InvalidStatusLine,
    UnsupportedVersion,
    InvalidStatusCode,
    InvalidReasonPhrase,
    WhitespaceAfterStartLine,
    ObsFold,
    MissingColon,
    InvalidHeaderName,
    WhitespaceBeforeColon,
    InvalidHeaderValue,
    InvalidContentLength,
    ConflictingContentLength,
    ContentLengthWithTransferEncoding,
    InvalidTransferEncoding,
}
