using System.Runtime.CompilerServices;
using System.Text;
using Engine.Http;

namespace Engine.Forwarding;

/// <summary>
/// An upstream response head as parsed by <see cref="ResponseHeadParser"/>: the bytes as received,
/// with the status line, every field line as offsets into them, and the facts a forwarder acts
/// on (framing, reuse, hop-by-hop). One instance per upstream exchange, <see cref="Reset"/> between
/// heads: the buffers are kept, so steady-state parsing does not allocate.
/// </summary>
internal sealed class ResponseHead
{
    // A typical origin head is 300–800 bytes; the buffer doubles up to the parser's limit when one is not.
    private const int InitialBufferSize = 1024;
    private const int InitialHeaderCapacity = 16;

    private byte[] _buffer = new byte[InitialBufferSize];
    private FieldEntry[] _fields = new FieldEntry[InitialHeaderCapacity];
    private Range[] _connectionTokens = new Range[4];
    private int _fieldCount;
    private int _connectionTokenCount;
    private int _reasonStart;
    private int _reasonLength;

    public ResponseHead() => Reset();

    /// <summary>0 for HTTP/1.0, 1 for HTTP/1.1.</summary>
    public int MinorVersion { get; private set; }

    public int StatusCode { get; private set; }

    public ReadOnlySpan<byte> ReasonPhrase => _buffer.AsSpan(_reasonStart, _reasonLength);

    public int HeaderCount => _fieldCount;

    public ResponseHeadError Error { get; internal set; }

    public ResponseBodyFraming Framing { get; internal set; }

    /// <summary>The declared length when <see cref="Framing"/> is <see cref="ResponseBodyFraming.ContentLength"/>; the field's value (or -1) otherwise.</summary>
    public long ContentLength { get; internal set; }

    public bool HasTransferEncoding { get; internal set; }

    /// <summary>
    /// Whether the upstream connection may carry another request once this response's body has
    /// been read to its end. Meaningful on final responses only.
    /// </summary>
    public bool KeepAlive { get; internal set; }

    public ConnectionOptions Connection { get; internal set; }

    /// <summary>
    /// 1xx other than 101 (100 Continue, 103 Early Hints): relay it, reset, and parse the next head
    /// from the same connection (RFC 9110 §15.2). Never forward one to an HTTP/1.0 client.
    /// </summary>
    public bool IsInterim => StatusCode is >= 100 and < 200 && StatusCode != 101;

    /// <summary>101, or 2xx to CONNECT: the connection stops speaking HTTP after this head (RFC 9110 §15.2.2, §9.3.6).</summary>
    public bool SwitchesProtocols { get; internal set; }

    /// <summary>The head exactly as received, status line to the empty line inclusive (once complete).</summary>
    public ReadOnlySpan<byte> RawBytes => _buffer.AsSpan(0, Length);

    // Parse progress, owned by ResponseHeadParser: bytes copied so far and where the current line starts.
    internal int Length { get; private set; }

    internal int LineStart { get; set; }

    internal ResponseHeadPhase Phase { get; set; }

    // Transfer-Encoding as seen so far, across field lines (RFC 9112 §6.1).
    internal bool ChunkedSeen { get; set; }

    internal bool ChunkedIsFinal { get; set; }

    public HeaderField GetHeader(int index)
    {
        // The array outlives Reset: an index past the count would read a previous head's field.
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_fieldCount, nameof(index));
        ref readonly FieldEntry entry = ref _fields[index];
        return new HeaderField(_buffer.AsSpan(entry.NameStart, entry.NameLength), _buffer.AsSpan(entry.ValueStart, entry.ValueLength), KnownHeader.None);
    }

    /// <summary>Which field the forwarder treats specially this line is (matched once, when parsed).</summary>
    public ForwardingHeader KindOf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_fieldCount, nameof(index));
        return _fields[index].Known;
    }

    /// <summary>The line's name is listed in the response's Connection field (RFC 9110 §7.6.1: hop-by-hop).</summary>
    public bool IsListedInConnection(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_fieldCount, nameof(index));
        return _fields[index].ListedInConnection;
    }

    /// <summary>The first field line of a known kind, e.g. Upgrade on a 101.</summary>
    public bool TryGetValue(ForwardingHeader known, out ReadOnlySpan<byte> value)
    {
        for (int i = 0; i < _fieldCount; i++)
        {
            if (_fields[i].Known == known)
            {
                value = _buffer.AsSpan(_fields[i].ValueStart, _fields[i].ValueLength);
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>Whether field <paramref name="index"/> must not be forwarded (see <see cref="HopByHopHeaders"/>).</summary>
    public bool IsHopByHop(int index, bool upgrading = false)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_fieldCount, nameof(index));
        ref readonly FieldEntry entry = ref _fields[index];
        return HopByHopHeaders.IsHopByHop(entry.Known, entry.ListedInConnection, upgrading);
    }

    public void Reset()
    {
        Length = 0;
        LineStart = 0;
        Phase = ResponseHeadPhase.StatusLine;
        Error = ResponseHeadError.None;
        MinorVersion = 0;
        StatusCode = 0;
        _reasonStart = 0;
        _reasonLength = 0;
        _fieldCount = 0;
        _connectionTokenCount = 0;
        Framing = ResponseBodyFraming.None;
        ContentLength = -1;
        HasTransferEncoding = false;
        ChunkedSeen = false;
        ChunkedIsFinal = false;
        KeepAlive = false;
        Connection = ConnectionOptions.None;
        SwitchesProtocols = false;
    }

    internal ReadOnlySpan<byte> Bytes(int start, int length) => _buffer.AsSpan(start, length);

    internal void Append(ReadOnlySpan<byte> bytes)
    {
        if (_buffer.Length - Length < bytes.Length)
        {
            Grow(Length + bytes.Length);
        }

        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    internal void SetStatusLine(int minorVersion, int statusCode, int reasonStart, int reasonLength)
    {
        MinorVersion = minorVersion;
        StatusCode = statusCode;
        _reasonStart = reasonStart;
        _reasonLength = reasonLength;
    }

    internal void AddField(int nameStart, int nameLength, int valueStart, int valueLength, ForwardingHeader known)
    {
        if (_fieldCount == _fields.Length)
        {
            Array.Resize(ref _fields, _fields.Length * 2);
        }

        _fields[_fieldCount++] = new FieldEntry(nameStart, nameLength, valueStart, valueLength, known);
    }

    internal void AddConnectionToken(int start, int length)
    {
        if (_connectionTokenCount == _connectionTokens.Length)
        {
            Array.Resize(ref _connectionTokens, _connectionTokens.Length * 2);
        }

        _connectionTokens[_connectionTokenCount++] = new Range(start, start + length);
    }

    // Marks the fields that a Connection option names; done once per head, fields × options, both small.
    internal void MarkFieldsListedInConnection()
    {
        if (_connectionTokenCount == 0)
        {
            return;
        }

        for (int i = 0; i < _fieldCount; i++)
        {
            ref FieldEntry entry = ref _fields[i];
            ReadOnlySpan<byte> name = _buffer.AsSpan(entry.NameStart, entry.NameLength);
            for (int t = 0; t < _connectionTokenCount; t++)
            {
                if (Ascii.EqualsIgnoreCase(name, _buffer.AsSpan(_connectionTokens[t])))
                {
                    entry.ListedInConnection = true;
                    break;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int needed) => Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));

    private struct FieldEntry(int nameStart, int nameLength, int valueStart, int valueLength, ForwardingHeader known)
    {
        public readonly int NameStart = nameStart;
        public readonly int NameLength = nameLength;
        public readonly int ValueStart = valueStart;
        public readonly int ValueLength = valueLength;
        public readonly ForwardingHeader Known = known;
        public bool ListedInConnection;
    }
}
