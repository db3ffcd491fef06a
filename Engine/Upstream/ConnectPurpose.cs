namespace Engine.Upstream;

/// <summary>What the path through a node will carry.</summary>
internal enum ConnectPurpose : byte
{
    /// <summary>A CONNECT tunnel: bytes to the target verbatim.</summary>
    Tunnel,
    /// <summary>A plain HTTP request: through an http node it is sent in absolute form to the node itself.</summary>
    Http,
}
