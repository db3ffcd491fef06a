using Engine.Http;

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
    /// <summary>A chunk extension off its grammar: empty name, a value that is neither token nor quoted-string, a control character.</summary>
    InvalidExtension,
    /// <summary>The message's chunk extensions, summed, are over the budget.</summary>
    ExtensionTooLong,
    /// <summary>An LF without the CR before it.</summary>
    BareLineFeed,
    /// <summary>A CR not followed by LF.</summary>
    ExpectedLineFeed,
    /// <summary>Chunk data not followed by CRLF: the size lied.</summary>
    MissingChunkTerminator,
    /// <summary>A trailer line that starts with whitespace (obs-fold, RFC 9112 §5.2).</summary>
    TrailerObsFold,
    /// <summary>A trailer line whose name is empty, not a token, or has no colon.</summary>
    InvalidTrailerName,
    /// <summary>Whitespace between a trailer's name and its colon (RFC 9112 §5.1).</summary>
    TrailerWhitespaceBeforeColon,
    /// <summary>A control character (other than HTAB) or DEL in a trailer value.</summary>
    InvalidTrailerValue,
    /// <summary>The trailer section is over its budget.</summary>
    TrailerTooLarge,
    /// <summary>A target's trailer field named as one of the engine's own error fields (response bodies only).</summary>
    EngineFieldInTrailer,
}

/// <summary>What a client is told when its request body's chunked framing breaks.</summary>
internal static class ChunkedFramingErrors
{
    /// <summary>
    /// The request rejection (status, catalog code and RFC detail via <see cref="RejectReasons"/>) for a
    /// client's broken chunked body: the same reasons the head parser gives for the same faults in a
    /// header section (bare CR/LF, obs-fold, invalid field names and values).
    /// </summary>
    public static RejectReason ToRejectReason(this ChunkedFramingError error) => error switch
    {
        ChunkedFramingError.None => RejectReason.None,
        ChunkedFramingError.InvalidChunkSize or ChunkedFramingError.WhitespaceWithoutExtension => RejectReason.InvalidChunkSize,
        ChunkedFramingError.ChunkSizeOverflow => RejectReason.ChunkSizeOverflow,
        ChunkedFramingError.InvalidExtension => RejectReason.InvalidChunkExtension,
        ChunkedFramingError.ExtensionTooLong => RejectReason.ChunkExtensionTooLong,
        ChunkedFramingError.BareLineFeed => RejectReason.BareLF,
        ChunkedFramingError.ExpectedLineFeed => RejectReason.BareCR,
        ChunkedFramingError.MissingChunkTerminator => RejectReason.MissingChunkCrlf,
        ChunkedFramingError.TrailerObsFold => RejectReason.ObsFold,
        ChunkedFramingError.InvalidTrailerName => RejectReason.InvalidHeaderName,
        ChunkedFramingError.TrailerWhitespaceBeforeColon => RejectReason.WhitespaceBeforeColon,
        ChunkedFramingError.InvalidTrailerValue => RejectReason.InvalidHeaderValue,
        ChunkedFramingError.TrailerTooLarge => RejectReason.TrailerTooLarge,
        ChunkedFramingError.EngineFieldInTrailer => RejectReason.InvalidHeaderName,   // request scanners never refuse it
        _ => throw new ArgumentOutOfRangeException(nameof(error), error, null),
    };
}
