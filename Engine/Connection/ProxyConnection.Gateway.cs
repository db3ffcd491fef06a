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

    /// <summary>A request's first attempt starts clean; a re-entry after a failed exchange carries on.</summary>
    private void StartGatewayAttempts(bool carryOn)
    {
        if (!carryOn)
        {
            _upstreamCredentials = default;
            _renewProviderSession = false;
        }
    }

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

        // Within one request, a retry of the same gateway (onerror-retry) keeps the provider
        // session of the attempt before it, even when the session had no binding yet.
        if (_upstreamCredentials.Binding is { } last && last.Length > node.Id.Length && last.StartsWith(node.Id, StringComparison.Ordinal)
            && last[node.Id.Length] == Gateway.BindingSeparator)
        {
            binding = last;
        }

        _upstreamCredentials = node.Gateway.Render(node, _rules, RuleBytes.Span, _package!.Id, sessionId.Span, binding, _renewProviderSession);
        _renewProviderSession = false;
        return _upstreamCredentials;
    }
}
