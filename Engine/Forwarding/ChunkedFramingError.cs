namespace Engine.Forwarding;

/// <summary>How a chunked body's framing was broken (RFC 9112 §7.1).</summary>
internal enum ChunkedFramingError : byte
{
    None,
    /// <summary>Not 1*HEXDIG: empty, a sign, a <c>0x</c> prefix, or another byte after the digits.</summary>
    InvalidChunkSize,
    /// <summary>More hex digits than fit in a signed 64-bit length.</summary>
    ChunkSizeOverflow,
    /// <summary>Whitespace after the size that does not lead to a <c>;</c> extension (BWS is only allowed before one).</summary>
    WhitespaceWithoutExtension,
    /// <summary>A control character inside a chunk extension.</summary>
    InvalidExtension,
    ExtensionTooLong,
    /// <summary>An LF without the CR before it.</summary>
    BareLineFeed,
    /// <summary>A CR not followed by LF.</summary>
    ExpectedLineFeed,
    /// <summary>Chunk data not followed by CRLF: the size lied.</summary>
    MissingChunkTerminator,
    /// <summary>A trailer line that is not <c>token ":" value</c>, or is folded.</summary>
    InvalidTrailer,
    TrailerTooLarge,
}
