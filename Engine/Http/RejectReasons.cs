using Engine.Errors;

namespace Engine.Http;

/// <summary>
/// The one table from parser vocabulary (<see cref="RejectReason"/>) to the error catalog
/// (../shared/spec/errors.md): the CODE, its status, and a one-line ASCII detail for
/// X-Proxy-Detail. Details name the RFC section so a client developer can look it up.
/// </summary>
internal static class RejectReasons
{
    public static ErrorCode ToErrorCode(RejectReason reason) => reason switch
    {
        RejectReason.None => ErrorCode.None,
        RejectReason.RequestLineTooLong => ErrorCode.UriTooLong,
        RejectReason.HeadTooLarge or RejectReason.TooManyHeaders or RejectReason.TrailerTooLarge => ErrorCode.HeadersTooLarge,
        // RFC 9112 §6.1: a transfer coding the server does not understand SHOULD get 501.
        RejectReason.UnknownTransferCoding => ErrorCode.NotImplemented,
        // RFC 9110 §15.6.6: 505 is for a major version the server does not support.
        RejectReason.UnsupportedVersion => ErrorCode.VersionNotSupported,
        _ => ErrorCode.BadRequest,
    };

    /// <summary>HTTP status the catalog gives <see cref="ToErrorCode"/>'s code (0 for <see cref="RejectReason.None"/>).</summary>
    public static int ToStatusCode(RejectReason reason) => ToErrorCode(reason) switch
    {
        ErrorCode.None => 0,
        ErrorCode.UriTooLong => 414,
        ErrorCode.HeadersTooLarge => 431,
        ErrorCode.NotImplemented => 501,
        ErrorCode.VersionNotSupported => 505,
        _ => 400,
    };

    public static ReadOnlySpan<byte> Detail(RejectReason reason) => reason switch
    {
        RejectReason.InvalidRequestLine => "Malformed request line: method SP target SP version CRLF, single spaces (RFC 9112 3)"u8,
        RejectReason.InvalidMethod => "Method is not a token (RFC 9110 9.1)"u8,
        RejectReason.InvalidTarget => "Invalid request-target (RFC 9112 3.2)"u8,
        RejectReason.TargetUserinfo => "Request-target must not carry userinfo (RFC 9110 4.2.4)"u8,
        RejectReason.EmptyHost => "Request-target has an empty host (RFC 9110 4.2.1)"u8,
        RejectReason.ConnectWithoutPort => "CONNECT target needs a port (RFC 9110 9.3.6)"u8,
        RejectReason.InvalidPort => "Invalid port in request-target (RFC 9110 4.2.1)"u8,
        RejectReason.ConnectNotAuthorityForm => "CONNECT target must be host:port (RFC 9112 3.2.3)"u8,
        RejectReason.AuthorityFormNotConnect => "Authority-form target is only for CONNECT (RFC 9112 3.2.3)"u8,
        RejectReason.AsteriskNotOptions => "Asterisk-form target is only for OPTIONS (RFC 9112 3.2.4)"u8,
        RejectReason.InvalidVersion => "Invalid HTTP version, expected HTTP/1.0 or HTTP/1.1 (RFC 9112 2.3)"u8,
        RejectReason.UnsupportedVersion => "HTTP major version not supported (RFC 9110 15.6.6)"u8,
        RejectReason.RequestLineTooLong => "Request line too long (RFC 9112 3)"u8,
        RejectReason.TooManyEmptyLines => "Too many empty lines before the request line (RFC 9112 2.2)"u8,
        RejectReason.HeadTooLarge => "Request header section too large (RFC 6585 5)"u8,
        RejectReason.TooManyHeaders => "Too many header fields (RFC 6585 5)"u8,
        RejectReason.WhitespaceAfterRequestLine => "Whitespace between request line and first header (RFC 9112 2.2)"u8,
        RejectReason.WhitespaceBeforeColon => "Whitespace between field name and colon (RFC 9112 5.1)"u8,
        RejectReason.ObsFold => "Obsolete line folding in a field (RFC 9112 5.2)"u8,
        RejectReason.BareCR => "Bare CR not followed by LF (RFC 9112 2.2)"u8,
        RejectReason.BareLF => "Bare LF as line terminator, CRLF required (RFC 9112 2.2)"u8,
        RejectReason.InvalidHeaderName => "Field name is not a token or colon missing (RFC 9110 5.1)"u8,
        RejectReason.InvalidHeaderValue => "Control character in field value (RFC 9110 5.5)"u8,
        RejectReason.UnderscoreFramingName => "Field name with _ reads as a framing or hop-by-hop field to CGI-style gateways (RFC 3875 4.1.18)"u8,
        RejectReason.MissingHost => "HTTP/1.1 request without Host (RFC 9112 3.2)"u8,
        RejectReason.DuplicateHost => "More than one Host field (RFC 9112 3.2)"u8,
        RejectReason.InvalidHost => "Invalid Host field value (RFC 9112 3.2)"u8,
        RejectReason.ContentLengthAndTransferEncoding => "Content-Length and Transfer-Encoding together (RFC 9112 6.1)"u8,
        RejectReason.InvalidContentLength => "Invalid Content-Length (RFC 9110 8.6)"u8,
        RejectReason.ConflictingContentLength => "Conflicting Content-Length values (RFC 9112 6.3)"u8,
        RejectReason.TransferEncodingHttp10 => "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)"u8,
        RejectReason.TransferEncodingNotChunkedLast => "Transfer-Encoding must end with chunked (RFC 9112 6.3)"u8,
        RejectReason.ChunkedTwice => "Chunked transfer coding applied twice (RFC 9112 6.1)"u8,
        RejectReason.UnknownTransferCoding => "Unknown transfer coding (RFC 9112 6.1)"u8,
        RejectReason.InvalidChunkSize => "Invalid chunk size (RFC 9112 7.1)"u8,
        RejectReason.ChunkSizeOverflow => "Chunk size too large (RFC 9112 7.1)"u8,
        RejectReason.InvalidChunkExtension => "Invalid chunk extension (RFC 9112 7.1.1)"u8,
        RejectReason.ChunkExtensionTooLong => "Chunk extensions too long (RFC 9112 7.1.1)"u8,
        RejectReason.MissingChunkCrlf => "Chunk data not followed by CRLF (RFC 9112 7.1)"u8,
        RejectReason.TrailerTooLarge => "Trailer section too large (RFC 9112 7.1.2)"u8,
        RejectReason.DataAfterClose => "Data after a request that closes the connection (RFC 9112 9.6)"u8,
        _ => ""u8,
    };
}
