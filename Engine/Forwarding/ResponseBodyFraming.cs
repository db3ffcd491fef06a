namespace Engine.Forwarding;

/// <summary>How the response body is delimited (RFC 9112 §6.3).</summary>
internal enum ResponseBodyFraming : byte
{
    /// <summary>No body: HEAD, 1xx, 204, 304, 2xx to CONNECT (§6.3 items 1–2).</summary>
    None,
    /// <summary><see cref="ResponseHead.ContentLength"/> bytes follow (§6.3 item 6).</summary>
    ContentLength,
    /// <summary>Chunked is the final transfer coding: relay through <see cref="ChunkedFramingScanner"/> (§6.3 item 4).</summary>
    Chunked,
    /// <summary>The body runs until the server closes (§6.3 items 4 and 8); the connection cannot be reused.</summary>
    CloseDelimited,
}
