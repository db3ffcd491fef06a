using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Http;
using Engine.Transport;

namespace Engine.Connection;

internal sealed partial class ProxyConnection
{
    /// <summary>
    /// Answers the current request with a catalog error. The connection stays usable only when the
    /// request was read completely (no body left unread) and the client wants keep-alive.
    /// </summary>
    private ValueTask<bool> RejectAsync(ErrorCode code, ReadOnlySpan<byte> detail, int retryAfterSeconds = -1) =>
        RejectAsync(new ErrorResponse(code) { Detail = detail, RetryAfterSeconds = retryAfterSeconds >= 0 ? retryAfterSeconds : null });

    /// <summary>
    /// The one way a refusal goes out: <paramref name="response"/> carries what is particular to the
    /// error (detail, Retry-After, limitedBy, filters, param, attempts); the request's method,
    /// target, correlation id, node and the keep-alive decision are filled in here.
    /// </summary>
    private ValueTask<bool> RejectAsync(in ErrorResponse response)
    {
        bool keepAlive = CanKeepAliveAfterError();
        if (_termination == TerminationState.Normal)
        {
            _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
        }

        WriteError(response, keepAlive);
        return FlushThenAsync(keepAlive);
    }

    private bool CanKeepAliveAfterError() =>
        !_socks && _head.KeepAlive && _head.Framing == BodyFraming.None && !_draining.IsCancellationRequested;

    /// <summary>
    /// Every catalog answer goes out here: the problem+json response on HTTP listeners, the
    /// nearest RFC 1928 reply on SOCKS5 ones (errors.md), whose connection then closes.
    /// </summary>
    private int WriteErrorResponse(in ErrorResponse response)
    {
        if (_socks)
        {
            return WriteSocksReply(ErrorCatalog.Get(response.Code).Socks5Reply);
        }

        return _services.Errors.Write(_output, response);
    }

    private async ValueTask<bool> FlushThenAsync(bool keepAlive) => await FlushAsync().ConfigureAwait(false) && keepAlive;

    private void WriteError(ErrorCode code, ReadOnlySpan<byte> detail, bool keepAlive) =>
        WriteError(new ErrorResponse(code) { Detail = detail }, keepAlive);

    private void WriteError(in ErrorResponse response, bool keepAlive)
    {
        _error = response.Code;
        _status = ErrorCatalog.Get(response.Code).Status;
        _bytesOut += WriteErrorResponse(response with
        {
            Method = _head.MethodBytes,
            Target = _head.Target,
            CorrelationId = _correlationId,
            KeepAlive = keepAlive,
            NodeId = response.NodeId.IsEmpty ? _nodeIdBytes : response.NodeId,
        });
    }

    /// <summary>Flushes the output; false when the client is gone.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> FlushAsync()
    {
        try
        {
            ValueTask<FlushResult> flush = _output.FlushAsync(_aborted);
            FlushResult result = flush.IsCompletedSuccessfully ? flush.Result : await flush.ConfigureAwait(false);
            return !result.IsCompleted && !result.IsCanceled;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            return false;
        }
    }
}
