namespace Engine.Auth;

/// <summary>What a package may use: <c>http</c> = absolute-URI requests, <c>https</c> = CONNECT tunnels.</summary>
[Flags]
internal enum ProxyProtocols : byte
{
    None = 0,
    Http = 1,
    Https = 2,
    Socks5 = 4,
    All = Http | Https | Socks5,
}
