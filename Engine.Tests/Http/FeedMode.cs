namespace Engine.Tests.Http;

/// <summary>How a test hands a request's bytes to the parser (STYLE.md: whole, byte by byte, split everywhere).</summary>
public enum FeedMode
{
    /// <summary>All bytes in one contiguous buffer, one call.</summary>
    Whole,

    /// <summary>One more byte per call, contiguous buffer (a pipe receiving one byte at a time).</summary>
    ByteByByte,

    /// <summary>Two segments split at every byte boundary; the first arrives alone, then both.</summary>
    SplitEverywhere,

    /// <summary>Every byte its own segment, all available at once (lines cross many segments).</summary>
    SegmentPerByte,
}
