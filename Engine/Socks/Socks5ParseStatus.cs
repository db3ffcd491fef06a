namespace Engine.Socks;

internal enum Socks5ParseStatus : byte
{
    /// <summary>More bytes needed; nothing consumed.</summary>
    Incomplete,
    Complete,
    /// <summary>Not RFC 1928/1929: the connection is closed (after a reply where one exists).</summary>
    Invalid,
}
