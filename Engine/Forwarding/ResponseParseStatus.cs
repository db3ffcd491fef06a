namespace Engine.Forwarding;

/// <summary>What one call to <see cref="ResponseHeadParser.Parse"/> achieved.</summary>
internal enum ResponseParseStatus : byte
{
    /// <summary>Every offered byte was taken; feed more.</summary>
    Incomplete,
    /// <summary>The head ended; the reader stands on the first byte after its empty line.</summary>
    Complete,
    /// <summary>The head is malformed; <see cref="ResponseHead.Error"/> says why. Answer 502 and close the upstream connection.</summary>
    Invalid,
}
