using Engine.Upstream;

namespace Engine.Connection;

/// <summary>
/// The one seam provider gateways need in the connection (docs/providers.md): the attempt's
/// upstream credentials, rendered from the parsed rules and the session's binding, handed to the
/// connector (tunnels) and the forwarded head (absolute-URI requests).
/// </summary>
internal sealed partial class ProxyConnection
{
    // Rendered credentials of the current attempt's gateway node; default for any other node.
    private UpstreamCredentials _upstreamCredentials;

    // The last attempt's gateway failed: the next one through a gateway gets a new provider session.
    private bool _renewProviderSession;

    /// <summary>
    /// The credentials for one attempt through <paramref name="node"/>. <paramref name="binding"/>
    /// is the session's current binding (null for a new or rotating session): its provider session
    /// id is kept unless the last attempt failed.
    /// </summary>
    private UpstreamCredentials CredentialsFor(Node node, ReadOnlyMemory<byte> sessionId, string? binding)
    {
        if (node.Gateway is null)
        {
            return _upstreamCredentials = default;
        }

        _upstreamCredentials = node.Gateway.Render(node, _rules, RuleBytes.Span, _package!.Id, sessionId.Span, binding, _renewProviderSession);
        _renewProviderSession = false;
        return _upstreamCredentials;
    }
}
