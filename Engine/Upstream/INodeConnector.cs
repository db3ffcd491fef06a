namespace Engine.Upstream;

/// <summary>Opens a connection to a target through one node (direct, HTTP CONNECT or SOCKS5); the seam the router's tests script.</summary>
internal interface INodeConnector
{
    /// <summary>A socket to <paramref name="host"/>:<paramref name="port"/> through <paramref name="node"/>, or what failed: the node or the target behind it.</summary>
    /// <param name="credentials">A provider gateway's credentials rendered for this request; default: the node's own.</param>
    ValueTask<ConnectResult> ConnectAsync(Node node, string host, int port, ConnectPurpose purpose, CancellationToken shutdown, UpstreamCredentials credentials = default);
}
