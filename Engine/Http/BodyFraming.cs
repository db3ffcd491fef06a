namespace Engine.Http;

/// <summary>How the request content is delimited (RFC 9112 §6.3).</summary>
internal enum BodyFraming : byte
{
    /// <summary>No content: neither Content-Length nor Transfer-Encoding, or a CONNECT request (RFC 9110 §9.3.6).</summary>
    None = 0,

    /// <summary>Exactly <see cref="RequestHead.ContentLength"/> bytes follow the head.</summary>
    ContentLength,

    /// <summary>Chunked transfer coding (RFC 9112 §7.1), possibly after other codings.</summary>
    Chunked,
}
