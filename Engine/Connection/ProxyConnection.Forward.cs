using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Targets;
using Engine.Http;
using Engine.Transport;
using Engine.Upstream;

namespace Engine.Connection;

internal sealed partial class ProxyConnection
{
    /// <summary>
    /// Absolute-URI request: route, run the <see cref="HttpExchange"/>, and act on its result: give
    /// a reusable connection back to the pool, retry once on a fresh connection after a stale pooled
    /// one died (RFC 9112 §9.3.1), move on per <c>onerror</c> when an http node failed on the request
    /// itself, answer a failure the client has not seen yet.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> ForwardAsync()
    {
        try
        {
            if (_head.Scheme != SchemeKind.Http)
            {
                return await RejectAsync(ProxyFailures.NotHttpScheme).ConfigureAwait(false);
            }

            string host = TargetHostString();
            int port = _head.TargetPort;
            if (await RefuseTargetAsync(host, port, isConnect: false).ConfigureAwait(false) is bool refused)
            {
                return refused;
            }

            // A request that can be sent again whole (idempotent, no body) may retry once on a fresh
            // connection when a pooled one turns out dead, and move to the next node when an http node
            // fails on it. Everything else is answered as it failed.
            bool retryable = _head.Framing == BodyFraming.None && IsIdempotent(_head.Method);
            UpstreamConnectionPool? pool = _services.UpstreamPool;
            var target = new RouteTarget(host, port, _head, ConnectPurpose.Http, pool, retryable);
            (RouteResult route, bool clientContinues) = await OpenRouteAsync(target).ConfigureAwait(false);
            if (route.Status != RouteStatus.Connected)
            {
                return clientContinues;
            }

            _exchange ??= new HttpExchange(_input, _output, _aborted, _draining);
            _request.ExchangeStarted = true;
            TcpSocket? upstream = route.Socket;
            bool reused = route.Reused;
            while (true)
            {
                Node node = _router.Node!;
                if (upstream is null)
                {
                    // The retry after a dead pooled connection. The node may have died with it (a killed
                    // squid closes its keep-alive connections first): then onerror moves on as for any
                    // node failure before the request went out.
                    ConnectResult connect = await _services.Routing.Connector.ConnectAsync(node, host, port, ConnectPurpose.Http, _aborted, _router.Credentials).ConfigureAwait(false);
                    if (connect.Status != ConnectStatus.Connected && Router.IsNodeFailure(connect.Status) && !_aborted.IsCancellationRequested)
                    {
                        route = await _router.ReplaceAsync(target, connect).ConfigureAwait(false);
                        if (route.Status != RouteStatus.Connected)
                        {
                            return await RejectRouteAsync(route).ConfigureAwait(false);
                        }

                        upstream = route.Socket;
                        reused = route.Reused;
                        continue;
                    }

                    if (connect.Status != ConnectStatus.Connected)
                    {
                        return await RejectAsync(ProxyFailures.Connect(connect, isConnect: false)).ConfigureAwait(false);
                    }

                    upstream = connect.Socket!;
                    reused = false;
                }

                ExchangeResult result;
                try
                {
                    result = await _exchange.RunAsync(new ExchangeRequest(_head, node, upstream, pool is not null, reused && retryable,
                        _services.Exchange, _router.Attempts, _admission.Traffic, _request.BytesIn + _request.BytesOut, _router.Credentials.AuthorizationBytes)).ConfigureAwait(false);
                    if (result.Outcome == ExchangeOutcome.Reusable)
                    {
                        pool!.Return(node.Index, _head.TargetHost, port, upstream);
                        upstream = null;
                    }
                }
                finally
                {
                    if (upstream is not null)
                    {
                        upstream.Close();
                    }
                    upstream = null;
                }

                _request.BytesIn += result.BytesIn;
                _request.BytesOut += result.BytesOut;
                switch (result.Outcome)
                {
                    case ExchangeOutcome.RetryOnFreshConnection:
                        continue;
                    case ExchangeOutcome.NodeFailed when !retryable || _aborted.IsCancellationRequested:
                        return await RejectRouteAsync(_router.FailWithoutReplacement(new ConnectResult(result.NodeFailure, NodeAnswer: result.NodeAnswer))).ConfigureAwait(false);
                    case ExchangeOutcome.NodeFailed:
                        // Nothing reached the client: the request goes on through the next node as onerror says.
                        route = await _router.ReplaceAsync(target, new ConnectResult(result.NodeFailure, NodeAnswer: result.NodeAnswer)).ConfigureAwait(false);
                        if (route.Status != RouteStatus.Connected)
                        {
                            return await RejectRouteAsync(route).ConfigureAwait(false);
                        }

                        upstream = route.Socket;
                        reused = route.Reused;
                        continue;
                    case ExchangeOutcome.Failed:
                        return await RejectExchangeAsync(result).ConfigureAwait(false);
                }

                _router.ConfirmNode();
                _request.Status = result.Status;
                EndAnswered(result.Termination, result.Failure);

                return result.ClientContinues;
            }
        }
        finally
        {
            if (_handoff is null)
            {
                EndAdmitted();   // the request is over: its slot, bytes and breaker outcome
            }
        }
    }

    private static bool IsIdempotent(KnownMethod method) =>
        method is KnownMethod.Get or KnownMethod.Head or KnownMethod.Options or KnownMethod.Trace or KnownMethod.Put or KnownMethod.Delete;
}
