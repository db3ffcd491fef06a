namespace Engine.Forwarding;

/// <summary>Where <see cref="ResponseHeadParser"/> stands in a head.</summary>
internal enum ResponseHeadPhase : byte
{
    StatusLine,
    Fields,
    Complete,
    Invalid,
}
