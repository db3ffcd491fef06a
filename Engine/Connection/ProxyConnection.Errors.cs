using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Engine.Errors;
using Engine.Http;
using Engine.Socks;
using Engine.Transport;

namespace Engine.Connection;

internal sealed partial class ProxyConnection
{
    /// <summary>
    /// The one way a refusal goes out: <paramref name="failure"/> (from <see cref="ProxyFailures"/>)
    /// carries the code, the termination state and what is particular to it; the request's method,
    /// target, correlation id, node and the keep-alive decision are filled in here. The connection
    /// stays usable only when the request was read completely (no body left unread) and the client
    /// wants keep-alive; the value says whether it does.
    /// </summary>
    private ValueTask<bool> RejectAsync(in ProxyFailure failure)
    {
        UnreadBody body = UnreadBodyAfterRefusal();
        bool keepAlive = (CanKeepAlive && _head.Framing == BodyFraming.None) || body == UnreadBody.Skip;
        WriteError(failure, keepAlive);
        return FinishRefusalAsync(keepAlive, body);
    }

    private bool CanKeepAlive => !_socks && _head.KeepAlive && !_draining.IsCancellationRequested;

    private enum UnreadBody : byte
    {
        None,
        /// <summary>Small and of known length: read it past and keep the connection.</summary>
        Skip,
        /// <summary>Too large or of unknown length: stop sending, discard for a while, close.</summary>
        Linger,
    }

    /// <summary>What a refusal does with a request body nobody read (the exchange, once started, owns the body instead).</summary>
    private UnreadBody UnreadBodyAfterRefusal()
    {
        if (_socks || _head.Framing == BodyFraming.None || _request.ExchangeStarted)
        {
            return UnreadBody.None;
        }

        return CanKeepAlive && _head.Framing == BodyFraming.ContentLength && _head.ContentLength <= _services.Limits.MaxDrainBytes
            ? UnreadBody.Skip
            : UnreadBody.Linger;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> FinishRefusalAsync(bool keepAlive, UnreadBody body)
    {
        if (!await FlushAsync().ConfigureAwait(false))
        {
            return false;
        }

        switch (body)
        {
            case UnreadBody.Skip:
                return await _reader.SkipBodyAsync(_head.ContentLength, _services.Limits.RequestHeadTimeout).ConfigureAwait(false);
            case UnreadBody.Linger:
                await _output.CompleteAsync().ConfigureAwait(false);
                await _reader.LingerAsync(_services.Limits.LingerTimeout).ConfigureAwait(false);
                return false;
            default:
                return keepAlive;
        }
    }

    /// <summary>
    /// Every catalog answer goes out here: the problem+json response on HTTP listeners, the
    /// nearest RFC 1928 reply on SOCKS5 ones (errors.md), whose connection then closes.
    /// </summary>
    private void WriteError(in ProxyFailure failure, bool keepAlive)
    {
        if (failure.LimitedBy != LimitedBy.None)
        {
            _services.Metrics?.Limited(failure.LimitedBy);
        }

        _request.Termination = failure.Termination;
        _request.Error = failure.Code;
        _request.Status = ErrorCatalog.Get(failure.Code).Status;
        if (_socks)
        {
            _request.BytesOut += Socks5Handshake.WriteReply(_output, ErrorCatalog.Get(failure.Code).Socks5Reply);
            return;
        }

        _request.BytesOut += _services.Errors.Write(_output, new ErrorResponse(failure.Code)
        {
            Detail = failure.Detail,
            RetryAfterSeconds = failure.RetryAfterSeconds >= 0 ? failure.RetryAfterSeconds : null,
            LimitedBy = failure.LimitedBy,
            Filters = failure.Filters,
            Param = failure.Param,
            Attempts = failure.Attempts >= 0 ? failure.Attempts : null,
            Method = _head.MethodBytes,
            Target = _head.Target,
            CorrelationId = _request.CorrelationId,
            KeepAlive = keepAlive,
            NodeId = _router.Node?.IdBytes ?? default,
            UpstreamStatus = _request.Upstream.IsError ? _request.Upstream.Status : 0,
            UpstreamError = _request.Upstream.ErrorId,
            UpstreamSource = _request.Upstream.Source,
        });
    }

    /// <summary>Flushes the output; false when the client is gone.</summary>
    private ValueTask<bool> FlushAsync() => ClientFlush.FlushAsync(_output, _aborted);
}
