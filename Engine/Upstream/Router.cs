using System.Buffers.Text;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Rules;
using Engine.Transport;
using Engine.Sessions;

namespace Engine.Upstream;

/// <summary>
/// Rules → node → path for one request at a time: resume or start the sticky session (once per
/// request), pick a node, connect through it, and when the node (not the target) fails, follow
/// <c>onerror</c>: retry it, replace it, or refuse. Everything here happens before a request byte
/// is forwarded or a tunnel's 200 is sent, so a replacement is invisible to the client. Returns a
/// <see cref="RouteResult"/>; it never answers the client itself.
/// </summary>
/// <remarks>
/// Steps: <see cref="Begin"/> takes the parsed rules; <see cref="OpenAsync"/> opens the session and
/// runs attempts (select → rent or connect → classify → retry, replace or refuse);
/// <see cref="ReplaceAsync"/> continues the same attempt sequence when an http node failed on the
/// request itself; <see cref="Release"/> gives the node's in-flight slot back; <see cref="Reset"/>
/// clears everything for the next request. One instance per client connection.
/// </remarks>
internal sealed class Router
{
    private readonly int[] _tried = new int[16];
    // Canonical rules without the session id (the session's lock); made on first use, only
    // sessions need it.
    private byte[]? _fingerprint;

    // The request being routed: set by Begin and OpenAsync, cleared by Reset.
    private NodeRouting? _routing;
    private TimeProvider _time = TimeProvider.System;
    private EngineMetrics? _metrics;
    private CancellationToken _aborted;
    private string _packageId = string.Empty;
    private RuleSet _rules;
    private ReadOnlyMemory<byte> _ruleBytes;
    private NodeFilter _filter;
    private FilterDimensions _unmatched;
    private bool _hasSession;
    private ReadOnlyMemory<byte> _sessionId;
    private int _fingerprintLength;
    private string? _boundBefore;
    private int _triedCount;
    private int _sameNodeRetries;
    private bool _replaced;

    // Provider gateways (docs/providers.md): the session's binding when the request began
    // (gateway-id#nonce), and whether the last attempt's provider session failed.
    private string? _binding;
    private bool _renewProviderSession;

    /// <summary>The current attempt's upstream credentials: rendered for a gateway node, default (the node's own) otherwise.</summary>
    public UpstreamCredentials Credentials { get; private set; }

    /// <summary>Connects made for this request (failover counts each node tried).</summary>
    public int Attempts { get; private set; }

    /// <summary>The node the request went or tried to go through (for the log and the error's <c>nodeId</c>); null when none was chosen.</summary>
    public Node? Node { get; private set; }

    /// <summary>The rules in force for this request.</summary>
    public ref readonly RuleSet Rules => ref _rules;

    private Node? _entered;

    /// <summary>Starts routing a request whose rules parsed; <paramref name="ruleBytes"/> is the rule text <paramref name="rules"/> indexes.</summary>
    public void Begin(NodeRouting routing, string packageId, byte allowedNetworkMask, in RuleSet rules, ReadOnlyMemory<byte> ruleBytes,
        TimeProvider time, EngineMetrics? metrics, CancellationToken aborted)
    {
        _routing = routing;
        _packageId = packageId;
        _rules = rules;
        _ruleBytes = ruleBytes;
        _time = time;
        _metrics = metrics;
        _aborted = aborted;
        ReadOnlySpan<byte> text = ruleBytes.Span;
        _filter = routing.Pool.CreateFilter(
            rules.CountryAny ? (ushort)0 : rules.Country, rules.Region.Of(text), rules.City.Of(text), rules.Isp.Of(text),
            rules.Asn, rules.Network, allowedNetworkMask);
        _filter.SessionSeconds = rules.Session.IsEmpty ? 0 : Gateway.SessionSeconds(rules);
    }

    /// <summary>Forgets the previous request; the node's slot must have been released.</summary>
    public void Reset()
    {
        _routing = null;
        _metrics = null;
        _aborted = default;
        _packageId = string.Empty;
        _rules = default;
        _ruleBytes = default;
        _filter = default;
        _unmatched = default;
        _hasSession = false;
        _sessionId = default;
        _boundBefore = null;
        _triedCount = 0;
        _sameNodeRetries = 0;
        _replaced = false;
        _binding = null;
        _renewProviderSession = false;
        Credentials = default;
        Attempts = 0;
        Node = null;
    }

    /// <summary>
    /// Hands the node the request entered over to a tunnel that outlives this router's connection:
    /// the tunnel leaves it when it ends, and <see cref="Release"/> no longer does.
    /// </summary>
    public Node? TakeEntered()
    {
        Node? entered = _entered;
        _entered = null;
        return entered;
    }

    /// <summary>Gives the request's node back (its in-flight count) when the request ends or moves on.</summary>
    public void Release()
    {
        _entered?.Leave();
        _entered = null;
    }

    private SessionTerms Terms => new(_rules.SessionLengthSeconds, _rules.IdleTtlSeconds, _rules.RotateSeconds, _rules.RotateRequests);

    /// <summary>Opens the session and a path to <paramref name="target"/>.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<RouteResult> OpenAsync(RouteTarget target)
    {
        NodeRouting routing = _routing!;
        NodePool nodes = routing.Pool;
        _hasSession = !_rules.Session.IsEmpty;
        SessionOpened session = default;
        Node? node = null;
        Node? previous = null;
        if (_hasSession)
        {
            _fingerprint ??= new byte[RuleFormatter.MaxLength];
            int length = RuleFormatter.Format(_rules, _ruleBytes.Span, _fingerprint, includeSession: false);
            _sessionId = _ruleBytes.Slice(_rules.Session.Start, _rules.Session.Length);
            _fingerprintLength = Math.Max(length, 0);
            // Looked up, not created: a session exists only once a node is bound to it (BindAsync),
            // so refused requests cannot fill the store with sessions.
            session = await routing.Sessions.OpenAsync(_packageId, _sessionId, _fingerprint.AsMemory(0, _fingerprintLength), Terms, create: false).ResumeOnLoop();
            if (session.Status == SessionOpenStatus.Mismatch)
            {
                return new RouteResult(RouteStatus.SessionMismatch);
            }

            if (session.NodeId is not null)
            {
                // A node removed from the configuration is a node failure for the session's policy.
                node = nodes.Find(session.NodeId);
                previous = node;
                if (node is not null && (node.AdminState != NodeAdminState.Active || node.Weight <= 0))
                {
                    // Drained (admin drain, or gone from a node source) or weight 0: it gets no new
                    // work, so the session moves as its onerror says, as for a removed node.
                    node = null;
                }
            }
            else if (session.PreviousNodeId is not null)
            {
                previous = nodes.Find(session.PreviousNodeId);   // rotation: move away from it
            }
        }

        _boundBefore = session.NodeId ?? session.PreviousNodeId;
        _binding = session.NodeId;
        long now = _time.GetTimestamp();
        if (_hasSession && session.NodeId is not null && (node is null || !node.IsAvailable(now)))
        {
            // The session's node was removed from the configuration, or is cooling down after
            // failures. Replacing policies move on without spending an attempt on it; bind-node,
            // onerror-fail and onerror-retry try a cooling node anyway (the client asked for it)
            // and answer at once for a removed one.
            if (_rules.BindNode && node is null)
            {
                return new RouteResult(RouteStatus.BoundNodeGone);
            }

            if (_rules.OnError == OnErrorMode.Fail && node is null)
            {
                return new RouteResult(RouteStatus.NodeFailed, Connect: new ConnectResult(ConnectStatus.NodeUnavailable));
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

        bool rotating = _hasSession && session.NodeId is null && previous is not null;
        return await AttemptAsync(target, node, previous, rotating, failed: default).ConfigureAwait(false);
    }

    /// <summary>
    /// The node failed on the request itself (an http node reset, answered garbage or its own 407)
    /// before anything reached the client: carry on the same attempt sequence as if its connect had failed.
    /// <paramref name="failure"/> keeps the node's classified answer, if any, for the refusal that may follow.
    /// </summary>
    public ValueTask<RouteResult> ReplaceAsync(RouteTarget target, ConnectResult failure)
    {
        Release();
        return AttemptAsync(target, Node, previous: null, rotating: false, failure);
    }

    /// <summary>The node answered the request (a response head came through it): its back-off ends.</summary>
    public void ConfirmNode() => Node?.RecordSuccess();

    /// <summary>The node failed on a request that cannot be sent again: count it against the node and refuse.</summary>
    public RouteResult FailWithoutReplacement(ConnectResult failure)
    {
        Node?.RecordFailure(_routing!.Pool.Health, _time.GetTimestamp());
        return new RouteResult(RouteStatus.NodeFailed, Connect: failure);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RouteResult> AttemptAsync(RouteTarget target, Node? node, Node? previous, bool rotating, ConnectResult failed)
    {
        NodeRouting routing = _routing!;
        NodePool nodes = routing.Pool;
        long now = _time.GetTimestamp();
        while (true)
        {
            if (node is null)
            {
                node = Select(nodes, previous, rotating, target.Host, now);
                if (node is null)
                {
                    Node = null;
                    return new RouteResult(SelectionFailure(nodes, now));
                }
            }

            Node = node;
            UpstreamCredentials credentials = CredentialsFor(node);
            TcpSocket? reused = null;
            ConnectResult connect;
            if (failed.Status != ConnectStatus.Connected)
            {
                connect = failed;
                failed = default;
            }
            else if (target.Purpose == ConnectPurpose.Http
                && target.Pool?.Rent(node.Index, target.Head.TargetHost, target.Port, canRetry: target.CanResendWhole) is { } pooled)
            {
                reused = pooled;
                Attempts++;   // a node tried all the same: it counts against MaxAttempts
                connect = new ConnectResult(ConnectStatus.Connected, pooled);
            }
            else
            {
                Attempts++;
                long connectStarted = _time.GetTimestamp();
                connect = await routing.Connector.ConnectAsync(node, target.Host, target.Port, target.Purpose, _aborted, credentials).ConfigureAwait(false);
                if (connect.Status == ConnectStatus.Connected)
                {
                    _metrics?.UpstreamConnected(_time.GetElapsedTime(connectStarted));
                }
            }

            now = _time.GetTimestamp();
            if (connect.Status == ConnectStatus.Connected)
            {
                if (!(target.Purpose == ConnectPurpose.Http && node.Type == NodeType.Http))
                {
                    // Plain HTTP through an http node: the connect is only TCP to the proxy; the node's
                    // success is its answer to the request (ConfirmNode), or a node that accepts
                    // connections and answers every request with its 407 or garbage is never ejected.
                    node.RecordSuccess();
                }

                nodes.Bans.RecordSuccess(node.Index, target.Host);
                node.Enter();
                _entered = node;
                if (_hasSession)
                {
                    string binding = credentials.Binding ?? node.Id;
                    try
                    {
                        await routing.Sessions.BindAsync(_packageId, _sessionId, _fingerprint.AsMemory(0, _fingerprintLength), Terms, _boundBefore, binding).ResumeOnLoop();
                    }
                    catch
                    {
                        // The path is not handed to the caller: close it here (the node's slot goes back at Release).
                        connect.Socket?.Close();
                        throw;
                    }

                    _boundBefore = binding;
                }

                return new RouteResult(RouteStatus.Connected, connect.Socket, connect.Early, reused is not null, connect);
            }

            if (!IsNodeFailure(connect.Status))
            {
                // The node works; the target behind it failed. Count it against the pair so a
                // node one site blocks stops being chosen for that site.
                if (connect.Status is ConnectStatus.Refused or ConnectStatus.TimedOut)
                {
                    nodes.Bans.RecordFailure(node.Index, target.Host, now);
                }

                return new RouteResult(RouteStatus.TargetFailed, Connect: connect);
            }

            node.RecordFailure(nodes.Health, now);
            if (_rules.OnError == OnErrorMode.Retry && _sameNodeRetries < _rules.Retries && !_replaced)
            {
                _sameNodeRetries++;
                continue;
            }

            if (_rules.BindNode)
            {
                return new RouteResult(RouteStatus.BoundNodeFailed, Connect: connect);
            }

            if (_rules.OnError == OnErrorMode.Fail)
            {
                return new RouteResult(RouteStatus.NodeFailed, Connect: connect);
            }

            if (_rules.OnError == OnErrorMode.Retry && _replaced)
            {
                return new RouteResult(RouteStatus.RetriesExhausted, Connect: connect);
            }

            if (_rules.OnError != OnErrorMode.Retry && Attempts >= routing.MaxAttempts)
            {
                return new RouteResult(RouteStatus.NodeFailed, Connect: connect);
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

    /// <summary>
    /// The credentials for one attempt through <paramref name="node"/>. A gateway keeps the
    /// session's provider session (its binding) unless the last attempt failed; within one
    /// request, a retry of the same gateway (onerror-retry) keeps the attempt before it.
    /// </summary>
    private UpstreamCredentials CredentialsFor(Node node)
    {
        if (node.Gateway is null)
        {
            return Credentials = default;
        }

        string? binding = _binding;
        if (Credentials.Binding is { } last && last.Length > node.Id.Length && last.StartsWith(node.Id, StringComparison.Ordinal)
            && last[node.Id.Length] == Gateway.BindingSeparator)
        {
            binding = last;
        }

        Credentials = node.Gateway.Render(node, _rules, _ruleBytes.Span, _packageId, _hasSession ? _sessionId.Span : default, binding, _renewProviderSession);
        _renewProviderSession = false;
        return Credentials;
    }

    /// <summary>The node (not the target behind it) failed: onerror decides what happens next.</summary>
    public static bool IsNodeFailure(ConnectStatus status) =>
        status is ConnectStatus.NodeUnavailable or ConnectStatus.NodeAuthFailed or ConnectStatus.NodeProtocolError;

    /// <summary>
    /// A replacement prefers the old node's ISP, ASN and city when the rules say
    /// <c>prefer-lookalike</c>; a rotation moves away from the old node unless it is the only match.
    /// </summary>
    private Node? Select(NodePool nodes, Node? previous, bool rotating, string host, long now)
    {
        Node? chosen;
        if (previous is not null && _rules.PreferLookalike)
        {
            for (int level = 3; level >= 1; level--)
            {
                if (nodes.TrySelect(_filter.LookAlike(previous, level), ExcludingPrevious(previous), host, now, out chosen))
                {
                    return chosen;
                }
            }
        }

        if (rotating && previous is not null)
        {
            if (nodes.TrySelect(_filter, ExcludingPrevious(previous), host, now, out chosen))
            {
                return chosen;
            }

            _triedCount = Math.Max(0, _triedCount - 1);   // the old node is the only match: keep it
        }

        return nodes.TrySelect(_filter, _tried.AsSpan(0, _triedCount), host, now, out chosen) ? chosen : null;
    }

    private Span<int> ExcludingPrevious(Node previous)
    {
        if (_tried.AsSpan(0, _triedCount).Contains(previous.Index) || _triedCount >= _tried.Length)
        {
            return _tried.AsSpan(0, _triedCount);
        }

        _tried[_triedCount++] = previous.Index;
        return _tried.AsSpan(0, _triedCount);
    }

    private RouteStatus SelectionFailure(NodePool nodes, long now)
    {
        if (Attempts > 0)
        {
            // Nodes failed and nothing is left to replace them: the node's fault, not an empty pool.
            return _rules.OnError == OnErrorMode.Retry ? RouteStatus.RetriesExhausted : RouteStatus.NoNodeLeft;
        }

        return nodes.Explain(_filter, now, out _unmatched) switch
        {
            SelectStatus.NoProxy => RouteStatus.NoProxy,
            SelectStatus.NoMatch => RouteStatus.NoMatch,
            _ => RouteStatus.NoneAvailable,
        };
    }

    /// <summary>After <see cref="RouteStatus.NoMatch"/>: <c>country=us, city=los_angeles</c>, the unmatched rule values as the client wrote them.</summary>
    public int WriteUnmatchedFilters(Span<byte> destination)
    {
        ReadOnlySpan<byte> rules = _ruleBytes.Span;
        var w = new SpanBuilder(destination);
        if ((_unmatched & FilterDimensions.Country) != 0)
        {
            w.Item("country="u8);
            Span<byte> code = [(byte)(_filter.Country >> 8), (byte)_filter.Country];
            w.Append(code);
        }

        if ((_unmatched & FilterDimensions.Region) != 0)
        {
            w.Item("region="u8);
            w.Append(_rules.Region.Of(rules));
        }

        if ((_unmatched & FilterDimensions.City) != 0)
        {
            w.Item("city="u8);
            w.Append(_rules.City.Of(rules));
        }

        if ((_unmatched & FilterDimensions.Isp) != 0)
        {
            w.Item("isp="u8);
            w.Append(_rules.Isp.Of(rules));
        }

        if ((_unmatched & FilterDimensions.Asn) != 0)
        {
            w.Item("asn="u8);
            w.Number(_filter.Asn);
        }

        if ((_unmatched & FilterDimensions.Network) != 0)
        {
            w.Item("network="u8);
            w.Append(NodeTags.NetworkName(_filter.Network));
        }

        if ((_unmatched & FilterDimensions.Session) != 0)
        {
            // A provider gateway that cannot hold this sticky session (no {session}, or too long).
            w.Item("sessionlength="u8);
            w.Number((uint)_filter.SessionSeconds);
        }

        return w.Length;
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
