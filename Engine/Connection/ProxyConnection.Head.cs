using System.Buffers;
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
    /// Reads one request head. Until its first byte the keep-alive idle timeout applies; from then
    /// on one RequestHeadTimeout covers the whole head and is not extended by further reads, so
    /// a client trickling a byte at a time (slowloris) is cut off on time.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<HeadOutcome> ReadHeadAsync()
    {
        _deadline.CancelAfter(_services.Limits.IdleTimeout);
        bool started = false;
        Volatile.Write(ref _awaitingHead, true);
        if (_draining.IsCancellationRequested)
        {
            return HeadOutcome.Draining;
        }

        try
        {
            while (true)
            {
                ValueTask<ReadResult> pending = _input.ReadAsync(_deadline.Token);
                ReadResult read = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                if (read.IsCanceled)
                {
                    _input.AdvanceTo(buffer.Start);
                    return HeadOutcome.Draining;
                }

                if (!started && !buffer.IsEmpty)
                {
                    started = true;
                    _deadline.CancelAfter(_services.Limits.RequestHeadTimeout);
                }

                ParseStatus status = Parse(buffer, out SequencePosition consumed);
                if (status == ParseStatus.Complete)
                {
                    _input.AdvanceTo(consumed);
                    _deadline.TryReset();
                    return HeadOutcome.Complete;
                }

                if (status == ParseStatus.Rejected)
                {
                    _input.AdvanceTo(consumed);
                    return HeadOutcome.Rejected;
                }

                _input.AdvanceTo(consumed, buffer.End);
                if (read.IsCompleted)
                {
                    return buffer.Slice(consumed).IsEmpty && !_parser.InProgress ? HeadOutcome.Closed : HeadOutcome.Truncated;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return started ? HeadOutcome.HeadTimeout : HeadOutcome.IdleTimeout;
        }
        finally
        {
            Volatile.Write(ref _awaitingHead, false);
        }
    }

    private ParseStatus Parse(in ReadOnlySequence<byte> buffer, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        ParseStatus status = _parser.ParseHead(ref reader, _head);
        consumed = reader.Position;
        return status;
    }

    /// <summary>Ends a connection whose next request never became a complete head.</summary>
    private async ValueTask FinishUnparsedAsync(HeadOutcome outcome)
    {
        switch (outcome)
        {
            case HeadOutcome.Rejected:
                BeginRequest();
                WriteError(ProxyFailures.Rejected(_parser.RejectReason), keepAlive: false);
                await FlushAsync().ConfigureAwait(false);
                WriteAccessLog();
                break;
            case HeadOutcome.HeadTimeout:
                BeginRequest();
                WriteError(ProxyFailures.HeadTimeout, keepAlive: false);
                await FlushAsync().ConfigureAwait(false);
                WriteAccessLog();
                break;
            case HeadOutcome.Truncated:
                BeginRequest();
                _request.Termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Request);
                WriteAccessLog();
                break;
        }
    }
}
