namespace Engine.Diagnostics;

/// <summary>
/// An append-only file that rotates by size: when the next line would take <c>path</c> past
/// <c>maxBytes</c> it becomes <c>path.1</c> (<c>path.1</c> → <c>path.2</c> …) and a new <c>path</c>
/// starts, keeping at most <c>maxFiles</c> files in all, so the log never holds more than
/// maxBytes × maxFiles on disk. Cuts fall between lines (a single line longer than maxBytes gets a
/// file to itself). Written only by the access log's background task: not thread-safe.
/// </summary>
internal sealed class RotatingFileStream : Stream
{
    // 64 KiB: a few hundred lines per write(2) when the proxy is busy; flushed after every batch.
    private const int BufferBytes = 64 * 1024;

    private readonly string _path;
    private readonly string[] _rotated;
    private readonly long _maxBytes;
    private FileStream _file;
    private long _fileLength;

    public RotatingFileStream(string path, long maxBytes, int maxFiles)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFiles, 1);
        _path = Path.GetFullPath(path);
        _maxBytes = maxBytes;
        _rotated = Enumerable.Range(1, maxFiles - 1).Select(i => $"{_path}.{i}").ToArray();
        _file = Open(_path);
        _fileLength = _file.Length;
    }

    /// <summary>How many times the file was rotated since it was opened.</summary>
    public int Rotations { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            long room = _maxBytes - _fileLength;
            if (buffer.Length <= room)
            {
                Append(buffer);
                return;
            }

            // The whole lines that still fit; if none does and the file is empty, one line alone.
            int cut = room > 0 ? buffer[..(int)room].LastIndexOf((byte)'\n') + 1 : 0;
            if (cut == 0 && _fileLength == 0)
            {
                int end = buffer.IndexOf((byte)'\n');
                cut = end < 0 ? buffer.Length : end + 1;
            }

            Append(buffer[..cut]);
            buffer = buffer[cut..];
            if (!buffer.IsEmpty && !Rotate())
            {
                Append(buffer);
                return;
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    // Synchronous on purpose: only the background drain task writes, and a buffered append is
    // cheaper than the async machinery around it.
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override void Flush() => _file.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        _file.Flush();
        return Task.CompletedTask;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Append(ReadOnlySpan<byte> bytes)
    {
        _file.Write(bytes);
        _fileLength += bytes.Length;
    }

    /// <summary>False when the files could not be renamed; the current file stays open for appending.</summary>
    private bool Rotate()
    {
        _file.Dispose();
        try
        {
            if (_rotated.Length == 0)
            {
                File.Delete(_path);
            }
            else
            {
                File.Delete(_rotated[^1]);
                for (int i = _rotated.Length - 1; i > 0; i--)
                {
                    if (File.Exists(_rotated[i - 1]))
                    {
                        File.Move(_rotated[i - 1], _rotated[i], overwrite: true);
                    }
                }

                File.Move(_path, _rotated[0], overwrite: true);
            }

            Rotations++;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Cannot rename (someone else's file, read-only directory): keep appending rather than lose lines.
            return false;
        }
        finally
        {
            _file = Open(_path);
            _fileLength = _file.Length;
        }
    }

    private static FileStream Open(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.Append,
        Access = FileAccess.Write,
        // Readers (tail -F, a shipper) may follow it and rotation may rename it under them.
        Share = FileShare.Read | FileShare.Delete,
        BufferSize = BufferBytes,
    });

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }

        base.Dispose(disposing);
    }
}
