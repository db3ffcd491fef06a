namespace Engine.Http;

/// <summary>What the host part of an authority is (RFC 3986 §3.2.2): a name, an IPv4 literal or a bracketed IPv6 literal.</summary>
internal enum HostKind : byte
{
    None = 0,
    Name,
    IPv4,
    IPv6,
}
