using System.Runtime.CompilerServices;
using System.Text;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Targets;
using Engine.Transport;
using Engine.Upstream;

namespace Engine.Connection;

/// <summary>
/// The route step: the target policy and the domain's breaker on the name, then the rules (parsed
/// once per request) and the <see cref="Router"/>. A refusal is answered here.
/// </summary>
internal sealed partial class ProxyConnection
{
    private string _lastHost = string.Empty;

    /// <summary>
    /// The target host as a string (the connector, the policy checks and the breakers key on it),
    /// made once per connection and host: a keep-alive client usually asks the same host again.
    /// </summary>
    private string TargetHostString()
    {
        ReadOnlySpan<byte> host = _head.TargetHost;
        if (!Ascii.Equals(host, _lastHost))
        {
            _lastHost = Encoding.ASCII.GetString(host);
        }

        return _lastHost;
    }

    /// <summary>Ports and the blocklist, checked on the name before anything is resolved.</summary>
    private ValueTask<bool> RejectPolicyAsync(PolicyVerdict verdict, int port)
    {
        Span<byte> detail = stackalloc byte[ProxyFailures.PolicyDetailLength];
        return RejectAsync(ProxyFailures.Of(verdict, port, detail));
    }

    /// <summary>Rules → session → node → path; on anything but <see cref="RouteStatus.Connected"/> the request has been answered and the flag says whether the connection lives on.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<(RouteResult Route, bool ClientContinues)> OpenRouteAsync(RouteTarget target)
    {
        if (!ParseRules())
        {
            return (new RouteResult(RouteStatus.NotRouted), await RejectRuleAsync().ConfigureAwait(false));
        }

        _router.Begin(_services.Routing, _request.Package!.Id, _request.Package.AllowedNetworkMask, _request.Rules, RuleBytes,
            _services.Time, _services.Metrics, _aborted);
        RouteResult route = await _router.OpenAsync(target).ConfigureAwait(false);
        return route.Status == RouteStatus.Connected ? (route, true) : (route, await RejectRouteAsync(route).ConfigureAwait(false));
    }

    private ValueTask<bool> RejectRouteAsync(in RouteResult route)
    {
        // The last node's own error answer, if it gave one, goes with the refusal (the upstream member).
        _request.Upstream = route.Connect.NodeAnswer;
        if (route.Status == RouteStatus.NoMatch)
        {
            Span<byte> filters = stackalloc byte[512];
            int length = _router.WriteUnmatchedFilters(filters);
            Span<byte> detail = stackalloc byte[560];
            return RejectAsync(ProxyFailures.NoMatch(filters[..length], detail));
        }

        if (ProxyFailures.IsTranslated(route))
        {
            Span<byte> translated = stackalloc byte[ProxyFailures.NodeAnswerDetailLength];
            return RejectAsync(ProxyFailures.NodeAnswered(_request.Upstream, _router.Node?.IdBytes ?? default, translated));
        }

        return RejectAsync(ProxyFailures.Of(route, IsConnect, _router.Attempts));
    }

    /// <summary>An exchange that failed before the client saw a byte: a node's translated error answer, or the target's failure.</summary>
    private ValueTask<bool> RejectExchangeAsync(in ExchangeResult result)
    {
        _request.Upstream = result.NodeAnswer;
        if (result.Failure == ExchangeFailure.NodeAnswered)
        {
            Span<byte> translated = stackalloc byte[ProxyFailures.NodeAnswerDetailLength];
            return RejectAsync(ProxyFailures.NodeAnswered(_request.Upstream, _router.Node?.IdBytes ?? default, translated));
        }

        if (result.Failure == ExchangeFailure.ClientFraming)
        {
            // The body's framing broke, so the rest of it has no known length: the refusal drains it for a
            // while (lingering close, RFC 9112 §9.6) so the client reads the answer instead of a reset.
            _request.ExchangeStarted = false;
        }

        return RejectAsync(ProxyFailures.Of(result));
    }

    private ValueTask<bool> RejectRuleAsync()
    {
        ReadOnlySpan<byte> rules = RuleBytes.Span;
        Span<byte> detail = stackalloc byte[256];
        int length = _request.RuleError.FormatDetail(rules, detail);
        return RejectAsync(ProxyFailures.Rule(_request.RuleError, rules, detail[..length]));
    }

    /// <summary>A CONNECT (HTTP or SOCKS5) rather than an absolute-URI request.</summary>
    private bool IsConnect => _head.TargetForm == Http.TargetForm.Authority;
}
