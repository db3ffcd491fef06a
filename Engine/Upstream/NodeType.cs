namespace Engine.Upstream;

/// <summary>How a node reaches the target: from this host, or through an upstream HTTP / SOCKS5 proxy.</summary>
internal enum NodeType : byte
{
    Direct,
    Http,
    Socks5,
}
