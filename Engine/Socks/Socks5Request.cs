namespace Engine.Socks;

/// <summary>
/// An RFC 1928 request as parsed: the command, and the destination as text (a domain name as
/// sent, or the address formatted) in the caller's buffer, plus the port.
/// </summary>
internal readonly record struct Socks5Request(Socks5Command Command, byte AddressType, int HostLength, int Port);
