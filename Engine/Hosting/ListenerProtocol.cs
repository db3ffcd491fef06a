namespace Engine.Hosting;

/// <summary>What a listener speaks: <c>http</c> (absolute-URI + CONNECT), <c>socks5</c>, <c>https</c> (TLS to the proxy, then as http).</summary>
internal enum ListenerProtocol : byte
{
    Http,
    Socks5,
    Https,
    /// <summary><c>http+socks5</c>: one port for both, told apart by the first byte.</summary>
    HttpAndSocks5,
}
