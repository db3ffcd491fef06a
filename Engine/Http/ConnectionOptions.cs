namespace Engine.Http;

/// <summary>Connection header options the engine acts on (RFC 9110 §7.6.1); anything else is <see cref="Other"/>.</summary>
[Flags]
internal enum ConnectionOptions : byte
{
    None = 0,
    Close = 1,
    KeepAlive = 2,
    Upgrade = 4,
    Other = 8,
}
