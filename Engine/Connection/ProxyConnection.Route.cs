using System.Buffers.Text;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Auth;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Rules;
using Engine.Transport;
using Engine.Upstream;

namespace Engine.Connection;

/// <summary>
/// Rules → node → path: parse the targeting rules, resume or start the sticky session, pick a
/// node, connect through it, and when the node (not the target) fails, follow <c>onerror</c>:
/// retry it, replace it, or answer. Everything here happens before a request byte is forwarded
/// or a tunnel's 200 is sent, so a replacement is invisible to the client.
/// </summary>
internal sealed partial class ProxyConnection
{
    // Canonical rules without the session id (the session's lock); the formatter's bound is the
    // longest valid canonical form.
    private byte[]? _fingerprint;   // only sessions need it: made on first use
    private readonly int[] _tried = new int[16];
    private RuleSet _rules;
    private Node? _node;
    private int _attempts;

    // The attempt sequence of one request, kept across re-entries of OpenPathAsync.
    private int _triedCount;
    private int _sameNodeRetries;
    private bool _replaced;

    /// <summary>The rule string in force: the username, or the package's <c>DefaultRules</c> when it is empty.</summary>
    private ReadOnlyMemory<byte> RuleBytes =>
        _rulesLength > 0 ? _credentials.AsMemory(0, _rulesLength) : _package!.DefaultRulesBytes;

    /// <summary>Gives the request's node back (its in-flight count) when the request ends.</summary>
    private void ReleaseNode()
    {
        _node?.Leave();
        _node = null;
    }

    /// <summary>
    /// Opens the path to <paramref name="host"/>:<paramref name="port"/>. On success the socket is in
    /// the result and <see cref="_node"/> is set; otherwise the catalog error has been answered and
    /// <paramref name="clientContinues"/> says whether the client connection lives on.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<(Socket? Socket, ReadOnlyMemory<byte> Early, bool Reused, bool ClientContinues)> OpenPathAsync(
        string host, int port, ConnectPurpose purpose, UpstreamConnectionPool? pool, Node? failed = null, ConnectStatus failure = ConnectStatus.Connected)
    {
        NodeRouting routing = _services.Routing;
        if (!RuleParser.TryParse(RuleBytes.Span, _package!.Rules, out _rules, out RuleError ruleError))
        {
            return (null, default, false, await RejectRuleAsync(ruleError).ConfigureAwait(false));
        }

        NodePool nodes = routing.Pool;
        ReadOnlySpan<byte> rules = RuleBytes.Span;
        NodeFilter filter = nodes.CreateFilter(
            _rules.CountryAny ? (ushort)0 : _rules.Country, _rules.Region.Of(rules), _rules.City.Of(rules), _rules.Isp.Of(rules),
            _rules.Asn, _rules.Network, _package.AllowedNetworkMask);
        filter.SessionSeconds = _rules.Session.IsEmpty ? 0 : Gateway.SessionSeconds(_rules);
        StartGatewayAttempts(carryOn: failed is not null);

        bool hasSession = !_rules.Session.IsEmpty;
        SessionOpened session = default;
        ReadOnlyMemory<byte> sessionId = default;
        Node? node = null;
        Node? previous = null;
        if (hasSession)
        {
            _fingerprint ??= new byte[RuleFormatter.MaxLength];
            int length = RuleFormatter.Format(_rules, rules, _fingerprint, includeSession: false);
            sessionId = RuleBytes.Slice(_rules.Session.Start, _rules.Session.Length);
            session = await routing.Sessions.OpenAsync(_package.Id, sessionId, _fingerprint.AsMemory(0, Math.Max(length, 0)),
                new SessionTerms(_rules.SessionLengthSeconds, _rules.IdleTtlSeconds, _rules.RotateSeconds, _rules.RotateRequests)).ConfigureAwait(false);
            if (session.Status == SessionOpenStatus.Mismatch)
            {
                return (null, default, false, await RejectAsync(ErrorCode.SessionParamsMismatch,
                    "this session id is in use with different rules; keep the rules of its first request or use a new session id"u8).ConfigureAwait(false));
            }

            if (session.NodeId is not null)
            {
                // A node removed from the configuration is a node failure for the session's policy.
                node = nodes.Find(session.NodeId);
                previous = node;
            }
            else if (session.PreviousNodeId is not null)
            {
                previous = nodes.Find(session.PreviousNodeId);   // rotation: move away from it
            }
        }

        string? boundBefore = session.NodeId ?? session.PreviousNodeId;
        long now = _services.Time.GetTimestamp();
        if (hasSession && session.NodeId is not null && (node is null || !node.IsAvailable(now)))
        {
            // The session's node was removed from the configuration, or is cooling down after
            // failures. Replacing policies move on without spending an attempt on it; bind-node,
            // onerror-fail and onerror-retry try a cooling node anyway (the client asked for it)
            // and answer at once for a removed one.
            if (_rules.BindNode && node is null)
            {
                _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Connect);
                return (null, default, false, await RejectAsync(ErrorCode.BoundNodeFailed,
                    "the session's bound node is no longer in the pool and bind-node forbids a replacement; start a new session id"u8).ConfigureAwait(false));
            }

            if (_rules.OnError == OnErrorMode.Fail && node is null)
            {
                return (null, default, false, await RejectNodeFailureAsync(new ConnectResult(ConnectStatus.NodeUnavailable), retriesExhausted: false).ConfigureAwait(false));
            }

            if (node is null || (_rules.OnError == OnErrorMode.Replace && !_rules.BindNode))
            {
                if (node is not null)
                {
                    _tried[_triedCount++] = node.Index;
                }

                _replaced = _rules.OnError == OnErrorMode.Retry;
                node = null;
            }
        }

        bool rotating = hasSession && session.NodeId is null && previous is not null;
        if (failed is not null)
        {
            // Re-entry after the node failed on the request itself (see ForwardAsync): carry on
            // the same attempt sequence as if the connect had failed.
            node = failed;
            rotating = false;
        }

        while (true)
        {
            if (node is null)
            {
                node = Select(nodes, filter, previous, rotating, host, ref _triedCount, now);
                if (node is null)
                {
                    return (null, default, false, await RejectSelectionAsync(nodes, filter, RuleBytes.Span, _triedCount, now).ConfigureAwait(false));
                }
            }

            _nodeId = node.Id;
            _nodeIdBytes = node.IdBytes;
            UpstreamCredentials credentials = CredentialsFor(node, sessionId, session.NodeId);
            Socket? reused = purpose == ConnectPurpose.Http
                ? pool?.Rent(node.Index, _head.TargetHost, port, canRetry: CanResendWhole)
                : null;
            ConnectResult connect;
            if (failed is not null)
            {
                connect = new ConnectResult(failure);
                failed = null;
            }
            else if (reused is not null)
            {
                connect = new ConnectResult(ConnectStatus.Connected, reused);
            }
            else
            {
                _attempts++;
                long connectStarted = _services.Time.GetTimestamp();
                connect = await routing.Connector.ConnectAsync(node, host, port, purpose, _aborted, credentials).ConfigureAwait(false);
                if (connect.Status == ConnectStatus.Connected)
                {
                    _services.Metrics?.UpstreamConnected(_services.Time.GetElapsedTime(connectStarted));
                }
            }

            now = _services.Time.GetTimestamp();
            if (connect.Status == ConnectStatus.Connected)
            {
                node.RecordSuccess();
                nodes.Bans.RecordSuccess(node.Index, host);
                node.Enter();
                _node = node;
                if (hasSession)
                {
                    await routing.Sessions.CommitAsync(_package.Id, sessionId, boundBefore, credentials.Binding ?? node.Id).ConfigureAwait(false);
                }

                return (connect.Socket, connect.Early, reused is not null, true);
            }

            if (!IsNodeFailure(connect.Status))
            {
                // The node works; the target behind it failed. Count it against the pair so a
                // node one site blocks stops being chosen for that site.
                if (connect.Status is ConnectStatus.Refused or ConnectStatus.TimedOut)
                {
                    nodes.Bans.RecordFailure(node.Index, host, now);
                }

                return (null, default, false, await RejectConnectAsync(connect).ConfigureAwait(false));
            }

            node.RecordFailure(nodes.Health, now);
            if (_rules.OnError == OnErrorMode.Retry && _sameNodeRetries < _rules.Retries && !_replaced)
            {
                _sameNodeRetries++;
                continue;
            }

            if (_rules.BindNode)
            {
                _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Connect);
                return (null, default, false, await RejectAsync(ErrorCode.BoundNodeFailed,
                    "the session's bound node failed and bind-node forbids a replacement; start a new session id"u8).ConfigureAwait(false));
            }

            if (_rules.OnError == OnErrorMode.Fail)
            {
                return (null, default, false, await RejectNodeFailureAsync(connect, retriesExhausted: false).ConfigureAwait(false));
            }

            if (_rules.OnError == OnErrorMode.Retry && _replaced)
            {
                return (null, default, false, await RejectNodeFailureAsync(connect, retriesExhausted: true).ConfigureAwait(false));
            }

            if (_rules.OnError != OnErrorMode.Retry && _attempts >= routing.MaxAttempts)
            {
                return (null, default, false, await RejectNodeFailureAsync(connect, retriesExhausted: false).ConfigureAwait(false));
            }

            if (node.Gateway is not null)
            {
                // One provider session failed, not the provider: the replacement may be the same
                // gateway with a new provider session (attempts stay bounded by MaxAttempts).
                _renewProviderSession = true;
            }
            else if (_triedCount < _tried.Length)
            {
                _tried[_triedCount++] = node.Index;
            }

            previous = node;
            node = null;
            _replaced = _rules.OnError == OnErrorMode.Retry;
            rotating = false;
        }
    }

    private static bool IsNodeFailure(ConnectStatus status) =>
        status is ConnectStatus.NodeUnavailable or ConnectStatus.NodeAuthFailed or ConnectStatus.NodeProtocolError;

    /// <summary>
    /// A replacement prefers the old node's ISP, ASN and city when the rules say
    /// <c>prefer-lookalike</c>; a rotation moves away from the old node unless it is the only match.
    /// </summary>
    private Node? Select(NodePool nodes, in NodeFilter filter, Node? previous, bool rotating, string host, ref int triedCount, long now)
    {
        Span<int> exclude = _tried.AsSpan(0, triedCount);
        Node? chosen;
        if (previous is not null && _rules.PreferLookalike)
        {
            for (int level = 3; level >= 1; level--)
            {
                if (nodes.TrySelect(filter.LookAlike(previous, level), ExcludingPrevious(exclude, previous, ref triedCount), host, now, out chosen))
                {
                    return chosen;
                }
            }
        }

        if (rotating && previous is not null)
        {
            if (nodes.TrySelect(filter, ExcludingPrevious(exclude, previous, ref triedCount), host, now, out chosen))
            {
                return chosen;
            }

            triedCount = Math.Max(0, triedCount - 1);   // the old node is the only match: keep it
        }

        return nodes.TrySelect(filter, _tried.AsSpan(0, triedCount), host, now, out chosen) ? chosen : null;
    }

    private Span<int> ExcludingPrevious(Span<int> exclude, Node previous, ref int triedCount)
    {
        if (exclude.Contains(previous.Index) || triedCount >= _tried.Length)
        {
            return _tried.AsSpan(0, triedCount);
        }

        _tried[triedCount++] = previous.Index;
        return _tried.AsSpan(0, triedCount);
    }

    private ValueTask<bool> RejectSelectionAsync(NodePool nodes, in NodeFilter filter, ReadOnlySpan<byte> rules, int triedCount, long now)
    {
        _nodeId = string.Empty;
        _nodeIdBytes = [];
        _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Connect);
        if (_attempts > 0 && _rules.OnError == OnErrorMode.Retry)
        {
            return RejectRetriesExhaustedAsync();
        }

        if (_attempts > 0)
        {
            // Nodes failed and nothing is left to replace them: the node's fault, not an empty pool.
            return RejectAsync(ErrorCode.NodeUnavailable, "the chosen node failed and no other matching node is available; retry later"u8);
        }

        switch (nodes.Explain(filter, now, out FilterDimensions unmatched))
        {
            case SelectStatus.NoProxy:
                return RejectAsync(ErrorCode.NoProxy, "no node in the pool is online (every node is failing or cooling down)"u8);
            case SelectStatus.NoMatch:
                Span<byte> list = stackalloc byte[512];
                int length = WriteFilters(unmatched, nodes, filter, rules, list);
                Span<byte> detail = stackalloc byte[560];
                "No nodes matching "u8.CopyTo(detail);
                int n = "No nodes matching "u8.Length;
                list[..length].CopyTo(detail[n..]);
                n += length;
                return RejectWithFiltersAsync(detail[..n], list[..length]);
            default:
                return _attempts > 0
                    ? RejectAsync(ErrorCode.NodeUnavailable, "every node matching the rules failed for this request; retry later"u8)
                    : RejectAsync(ErrorCode.NodeUnavailable, "every node matching the rules is failing, cooling down or banned for this site; retry later"u8);
        }
    }

    /// <summary><c>country=us, city=los_angeles</c>: the rule values as the client wrote them.</summary>
    private int WriteFilters(FilterDimensions unmatched, NodePool nodes, in NodeFilter filter, ReadOnlySpan<byte> rules, Span<byte> destination)
    {
        var w = new SpanBuilder(destination);
        if ((unmatched & FilterDimensions.Country) != 0)
        {
            w.Item("country="u8);
            Span<byte> code = [(byte)(filter.Country >> 8), (byte)filter.Country];
            w.Append(code);
        }

        if ((unmatched & FilterDimensions.Region) != 0)
        {
            w.Item("region="u8);
            w.Append(_rules.Region.Of(rules));
        }

        if ((unmatched & FilterDimensions.City) != 0)
        {
            w.Item("city="u8);
            w.Append(_rules.City.Of(rules));
        }

        if ((unmatched & FilterDimensions.Isp) != 0)
        {
            w.Item("isp="u8);
            w.Append(_rules.Isp.Of(rules));
        }

        if ((unmatched & FilterDimensions.Asn) != 0)
        {
            w.Item("asn="u8);
            w.Number(filter.Asn);
        }

        if ((unmatched & FilterDimensions.Network) != 0)
        {
            w.Item("network="u8);
            w.Append(NodeTags.NetworkName(filter.Network));
        }

        if ((unmatched & FilterDimensions.Session) != 0)
        {
            // A provider gateway that cannot hold this sticky session (no {session}, or too long).
            w.Item("sessionlength="u8);
            w.Number((uint)filter.SessionSeconds);
        }

        return w.Length;
    }

    private ValueTask<bool> RejectWithFiltersAsync(ReadOnlySpan<byte> detail, ReadOnlySpan<byte> filters) =>
        RejectAsync(new ErrorResponse(ErrorCode.NodeNotFound) { Detail = detail, Filters = filters });

    private ValueTask<bool> RejectRetriesExhaustedAsync()
    {
        _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Connect);
        return RejectAsync(new ErrorResponse(ErrorCode.RetriesExhausted)
        {
            Detail = "the session's node failed every onerror-retry attempt and its replacement failed too"u8,
            Attempts = _attempts,
        });
    }

    private ValueTask<bool> RejectNodeFailureAsync(in ConnectResult connect, bool retriesExhausted)
    {
        _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Connect);
        if (retriesExhausted)
        {
            return RejectRetriesExhaustedAsync();
        }

        return RejectAsync(ErrorCode.NodeUnavailable, connect.Status switch
        {
            ConnectStatus.NodeAuthFailed => "the upstream node rejected the engine's credentials"u8,
            ConnectStatus.NodeProtocolError => "the upstream node answered something that is not its protocol"u8,
            _ => "the node refused, reset or did not accept the connection"u8,
        });
    }

    private ValueTask<bool> RejectRuleAsync(in RuleError error)
    {
        _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
        ReadOnlySpan<byte> rules = RuleBytes.Span;
        Span<byte> detail = stackalloc byte[256];
        int length = error.FormatDetail(rules, detail);
        return RejectAsync(new ErrorResponse(error.Code)
        {
            Detail = detail[..length],
            Param = error.Param.IsEmpty ? default : error.Param.Of(rules),
        });
    }

    /// <summary>A small appender for comma-separated detail lists, bounded by its buffer.</summary>
    private ref struct SpanBuilder(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;

        public int Length { get; private set; }

        public void Item(scoped ReadOnlySpan<byte> name)
        {
            if (Length > 0)
            {
                Append(", "u8);
            }

            Append(name);
        }

        public void Append(scoped ReadOnlySpan<byte> bytes)
        {
            int n = Math.Min(bytes.Length, _buffer.Length - Length);
            bytes[..n].CopyTo(_buffer[Length..]);
            Length += n;
        }

        public void Number(uint value)
        {
            if (Utf8Formatter.TryFormat(value, _buffer[Length..], out int written))
            {
                Length += written;
            }
        }
    }
}
