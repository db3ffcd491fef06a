namespace Engine.Connection;

/// <summary>What a listener's clients speak to the engine.</summary>
internal enum ClientProtocol : byte
{
    /// <summary>HTTP/1.1: absolute-URI requests and CONNECT.</summary>
    Http,
    /// <summary>SOCKS5 (RFC 1928) with RFC 1929 credentials or IP auth.</summary>
    Socks5,
    /// <summary>Either, told apart by the first byte: 0x05 is a SOCKS5 greeting, no HTTP method starts with it.</summary>
    Auto,
}
