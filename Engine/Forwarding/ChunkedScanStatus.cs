namespace Engine.Forwarding;

/// <summary>What one call to <see cref="ChunkedFramingScanner"/> found.</summary>
internal enum ChunkedScanStatus : byte
{
    /// <summary>Every offered byte belongs to the body; the message has not ended.</summary>
    NeedMoreData,
    /// <summary>The message ended; the bytes counted as consumed are its last ones, anything after is the next message.</summary>
    Complete,
    /// <summary>The framing is broken; <see cref="ChunkedFramingScanner.Error"/> says how. Close both connections.</summary>
    Invalid,
}
