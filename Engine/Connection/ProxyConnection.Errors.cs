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
        bool keepAlive = CanKeepAliveAfterError();
        WriteError(failure, keepAlive);
        return FlushThenAsync(keepAlive);
    }

    private bool CanKeepAliveAfterError() =>
        !_socks && _head.KeepAlive && _head.Framing == BodyFraming.None && !_draining.IsCancellationRequested;

    private async ValueTask<bool> FlushThenAsync(bool keepAlive) => await FlushAsync().ConfigureAwait(false) && keepAlive;

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
        });
    }

    /// <summary>Flushes the output; false when the client is gone.</summary>
    private ValueTask<bool> FlushAsync() => ClientFlush.FlushAsync(_output, _aborted);
}
