using System.IO.Pipelines;

namespace Engine.Diagnostics;

/// <summary>
/// The access log: one line per request or tunnel (time, correlation id, client, package, method,
/// target, node, status and CODE, bytes both ways, duration, HAProxy termination state, attempts),
/// as JSON or logfmt. A line is formatted on the stack, copied into a pipe under a short lock and
/// written out by one background task, so a request never waits for the disk; when the sink falls
/// behind by more than <see cref="MaxBacklogBytes"/> lines are dropped and counted instead of
/// stalling the data path. Successes can be sampled (<see cref="AccessLogSampling"/>); errors are
/// always kept. Never contains credentials: only the package id.
/// </summary>
internal sealed class AccessLog : IAsyncDisposable
{
    /// <summary>Lines waiting for the sink beyond this are dropped (4 MiB ≈ 15,000 JSON lines).</summary>
    public const long MaxBacklogBytes = 4 * 1024 * 1024;

    // 16 KiB segments: about 60 lines per write(2) when the sink is a file.
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false, minimumSegmentSize: 16 * 1024));
    private readonly Lock _lock = new();
    private readonly Stream _sink;
    private readonly bool _ownsSink;
    private readonly AccessLogFormat _format;
    private readonly ulong _sampleThreshold;
    private readonly Task _writer;
    private long _backlog;
    private long _dropped;
    private long _sampledOut;
    private long _written;

    /// <summary>
    /// Lines to <paramref name="sink"/> in <paramref name="format"/> (logfmt unless told: what tests
    /// and embedders read; the daemon's configured default is JSON), keeping every error and
    /// <paramref name="successSampleRate"/> (0..1) of the successes. With <paramref name="ownsSink"/>
    /// the sink is disposed after the last line.
    /// </summary>
    public AccessLog(Stream sink, AccessLogFormat format = AccessLogFormat.Logfmt, double successSampleRate = 1.0, bool ownsSink = false)
    {
        _sink = sink;
        _ownsSink = ownsSink;
        _format = format;
        _sampleThreshold = AccessLogSampling.Threshold(successSampleRate);
        _writer = Task.Run(DrainAsync);
    }

    /// <summary>Lines lost because the sink fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Success lines left out by sampling.</summary>
    public long SampledOut => Interlocked.Read(ref _sampledOut);

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Bytes written and not yet handed to the sink.</summary>
    internal long Backlog => Interlocked.Read(ref _backlog);

    // The 4 KiB line buffer is written before it is read: zeroing it per line is waste.
    [System.Runtime.CompilerServices.SkipLocalsInit]
    public void Write(in AccessLogEntry entry)
    {
        if (!AccessLogSampling.Keep(entry, _sampleThreshold))
        {
            Interlocked.Increment(ref _sampledOut);
            return;
        }

        if (Interlocked.Read(ref _backlog) > MaxBacklogBytes)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        // Formatted outside the lock; only the copy is serialised.
        Span<byte> line = stackalloc byte[AccessLogLineWriter.MaxLineBytes];
        int length = Format(_format, entry, line);
        lock (_lock)
        {
            line[..length].CopyTo(_pipe.Writer.GetSpan(length));
            _pipe.Writer.Advance(length);
            Interlocked.Add(ref _backlog, length);
            // Completes synchronously: pauseWriterThreshold 0 means the writer never waits.
            ValueTask<FlushResult> flush = _pipe.Writer.FlushAsync();
            System.Diagnostics.Debug.Assert(flush.IsCompleted, "an unpaused pipe flushes synchronously");
            _ = flush.IsCompleted ? flush.Result : default;
        }

        Interlocked.Increment(ref _written);
    }

    internal static int Format(AccessLogFormat format, in AccessLogEntry entry, Span<byte> line) =>
        format == AccessLogFormat.Json ? AccessLogJson.Format(entry, line) : AccessLogLogfmt.Format(entry, line);

    private async Task DrainAsync()
    {
        PipeReader reader = _pipe.Reader;
        while (true)
        {
            ReadResult read = await reader.ReadAsync().ConfigureAwait(false);
            foreach (ReadOnlyMemory<byte> segment in read.Buffer)
            {
                try
                {
                    await _sink.WriteAsync(segment).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // A broken sink (closed stdout, full disk) must not take the engine down: lines are lost.
                }
            }

            Interlocked.Add(ref _backlog, -read.Buffer.Length);
            reader.AdvanceTo(read.Buffer.End);
            try
            {
                await _sink.FlushAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }

            if (read.IsCompleted)
            {
                break;
            }
        }

        await reader.CompleteAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            _pipe.Writer.Complete();
        }

        await _writer.ConfigureAwait(false);
        if (_ownsSink)
        {
            await _sink.DisposeAsync().ConfigureAwait(false);
        }
    }
}
