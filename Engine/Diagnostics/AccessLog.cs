using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text;

namespace Engine.Diagnostics;

/// <summary>
/// The access log: one logfmt line per request or tunnel (time, correlation id, client, package,
/// method, target, node, status and CODE, bytes both ways, duration, HAProxy termination state).
/// Lines are formatted straight into a pipe under a short lock and written out by one background
/// task; when the sink falls behind by more than <see cref="MaxBacklogBytes"/> lines are dropped and
/// counted instead of stalling the data path. Never contains credentials: only the package id.
/// </summary>
internal sealed class AccessLog : IAsyncDisposable
{
    /// <summary>Lines waiting for the sink beyond this are dropped (4 MiB ≈ 20,000 lines).</summary>
    public const long MaxBacklogBytes = 4 * 1024 * 1024;

    private const int MaxFieldBytes = 512;

    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Lock _lock = new();
    private readonly Stream _sink;
    private readonly Task _writer;
    private long _backlog;
    private long _dropped;
    private long _written;

    public AccessLog(Stream sink)
    {
        _sink = sink;
        _writer = Task.Run(DrainAsync);
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Written => Interlocked.Read(ref _written);

    public void Write(in AccessLogEntry entry)
    {
        if (Interlocked.Read(ref _backlog) > MaxBacklogBytes)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        lock (_lock)
        {
            // Worst case: every field at its cap, plus keys and numbers.
            Span<byte> line = _pipe.Writer.GetSpan(8 * MaxFieldBytes);
            int length = Format(entry, line);
            _pipe.Writer.Advance(length);
            Interlocked.Add(ref _backlog, length);
            // Completes synchronously: pauseWriterThreshold 0 means the writer never waits.
            ValueTask<FlushResult> flush = _pipe.Writer.FlushAsync();
            System.Diagnostics.Debug.Assert(flush.IsCompleted, "an unpaused pipe flushes synchronously");
            _ = flush.IsCompleted ? flush.Result : default;
        }

        Interlocked.Increment(ref _written);
    }

    internal static int Format(in AccessLogEntry entry, Span<byte> line)
    {
        var w = new SpanWriter(line);
        w.Append(entry.Time.UtcDateTime);
        w.Raw(" cid="u8);
        w.Field(entry.CorrelationId);
        w.Raw(" client="u8);
        if (entry.Client is null)
        {
            w.Raw("-"u8);
        }
        else
        {
            w.Append(entry.Client);
        }

        w.Raw(" pkg="u8);
        w.Field(entry.PackageId);
        w.Raw(" method="u8);
        w.Field(entry.Method);
        w.Raw(" target="u8);
        w.Field(entry.Target);
        w.Raw(" node="u8);
        w.Field(entry.NodeId);
        w.Raw(" status="u8);
        w.Append(entry.Status);
        w.Raw(" code="u8);
        w.Field(entry.Code);
        w.Raw(" in="u8);
        w.Append(entry.BytesIn);
        w.Raw(" out="u8);
        w.Append(entry.BytesOut);
        w.Raw(" ms="u8);
        w.Append((long)entry.Duration.TotalMilliseconds);
        w.Raw(" ts="u8);
        Span<byte> ts = stackalloc byte[2];
        entry.Termination.TryFormat(ts);
        w.Raw(ts);
        if (entry.Attempts > 1)
        {
            w.Raw(" attempts="u8);
            w.Append(entry.Attempts);
        }

        w.Raw("\n"u8);
        return w.Length;
    }

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
                catch (IOException)
                {
                    // A broken sink (closed stdout) must not take the engine down: lines are lost.
                }
            }

            Interlocked.Add(ref _backlog, -read.Buffer.Length);
            reader.AdvanceTo(read.Buffer.End);
            try
            {
                await _sink.FlushAsync().ConfigureAwait(false);
            }
            catch (IOException)
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
    }

    /// <summary>Appends to a fixed span; fields are capped and made safe for one logfmt line.</summary>
    private ref struct SpanWriter(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;

        public int Length { get; private set; }

        public void Raw(scoped ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_buffer[Length..]);
            Length += bytes.Length;
        }

        // Values never contain spaces, quotes, '=' or control bytes in output, so the line stays
        // parseable whatever a client put in its request target.
        public void Field(ReadOnlySpan<byte> value)
        {
            if (value.IsEmpty)
            {
                Raw("-"u8);
                return;
            }

            foreach (byte b in value[..Math.Min(value.Length, MaxFieldBytes)])
            {
                _buffer[Length++] = b is > 0x20 and < 0x7F and not (byte)'"' and not (byte)'=' ? b : (byte)'?';
            }
        }

        public void Field(ReadOnlySpan<char> value)
        {
            if (value.IsEmpty)
            {
                Raw("-"u8);
                return;
            }

            foreach (char c in value[..Math.Min(value.Length, MaxFieldBytes)])
            {
                _buffer[Length++] = c is > ' ' and < (char)0x7F and not '"' and not '=' ? (byte)c : (byte)'?';
            }
        }

        public void Append(long value)
        {
            Utf8Formatter.TryFormat(value, _buffer[Length..], out int written);
            Length += written;
        }

        public void Append(DateTime utc)
        {
            // RFC 3339 with milliseconds: sortable and unambiguous.
            utc.TryFormat(_buffer[Length..], out int written, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
            Length += written;
        }

        public void Append(System.Net.IPEndPoint endPoint)
        {
            System.Net.IPAddress address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
            if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                Raw("["u8);
            }

            Span<char> chars = stackalloc char[64];
            if (address.TryFormat(chars, out int n))
            {
                Length += Encoding.ASCII.GetBytes(chars[..n], _buffer[Length..]);
            }

            if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                Raw("]"u8);
            }

            Raw(":"u8);
            Append(endPoint.Port);
        }
    }
}
