using System.Buffers;

namespace Engine.Http;

/// <summary>
/// One parsed request head: request line, field lines and the semantics the connection
/// layer acts on. Reused for every request of a connection; it owns a byte buffer that grows to
/// the largest head seen (bounded by <see cref="HttpParserLimits"/>), so steady state allocates nothing.
/// Spans it returns are valid until the next request's head is parsed.
/// </summary>
internal sealed class RequestHead
{
    // 512 bytes covers a CONNECT and a lean scraper GET; the buffer doubles on demand up to the
    // limits, once per connection. It is kept for the connection's life, tunnels included.
    private const int InitialBufferBytes = 512;
    // A CONNECT carries 2-5 fields and every held tunnel keeps its head: 8 slots, doubled on demand
    // (once per connection for a browser-like GET).
    private const int InitialHeaderSlots = 8;

    private byte[] _bytes = new byte[InitialBufferBytes];
    private int _used;

    private HeaderEntry[] _headers = new HeaderEntry[InitialHeaderSlots];
    private int _headerCount;

    // First index of each known header plus one; zero means absent.
    private readonly int[] _firstIndex = new int[KnownHeaders.Count];

    private int _methodLength;
    private int _targetOffset;
    private int _targetLength;
    private int _hostOffset;
    private int _hostLength;
    private int _pathOffset;
    private int _pathLength;

    public KnownMethod Method { get; private set; }

    /// <summary>The method token as received (case-sensitive, RFC 9110 §9.1).</summary>
    public ReadOnlySpan<byte> MethodBytes => _bytes.AsSpan(0, _methodLength);

    /// <summary>The request-target exactly as received.</summary>
    public ReadOnlySpan<byte> Target => _bytes.AsSpan(_targetOffset, _targetLength);

    public TargetForm TargetForm { get; private set; }

    public RequestVersion Version { get; private set; }

    /// <summary>Scheme of an absolute-form target; <see cref="SchemeKind.None"/> for the other forms.</summary>
    public SchemeKind Scheme { get; private set; }

    /// <summary>Host of an absolute- or authority-form target, IPv6 brackets removed; empty for the other forms.</summary>
    public ReadOnlySpan<byte> TargetHost => _bytes.AsSpan(_hostOffset, _hostLength);

    public HostKind TargetHostKind { get; private set; }

    /// <summary>Port of an absolute- or authority-form target: explicit, or the scheme's default (80/443), or 0 for an unknown scheme without one.</summary>
    public int TargetPort { get; private set; }

    /// <summary>
    /// Path and query of an origin- or absolute-form target, as received. May be empty or start with
    /// '?' for <c>http://host?q</c>; the forwarder then sends "/" first (RFC 9112 §3.2.1).
    /// </summary>
    public ReadOnlySpan<byte> TargetPathAndQuery => _bytes.AsSpan(_pathOffset, _pathLength);

    public int HeaderCount => _headerCount;

    public ConnectionOptions ConnectionOptions { get; internal set; }

    public BodyFraming Framing { get; internal set; }

    /// <summary>Declared content length when <see cref="Framing"/> is <see cref="BodyFraming.ContentLength"/>.</summary>
    public long ContentLength { get; internal set; }

    /// <summary>Whether the connection may carry another request after this one (RFC 9112 §9.3).</summary>
    public bool KeepAlive { get; internal set; }

    /// <summary><c>Expect: 100-continue</c> on an HTTP/1.1 request (RFC 9110 §10.1.1; ignored for HTTP/1.0).</summary>
    public bool ExpectContinue { get; internal set; }

    /// <summary><c>Connection: upgrade</c> with an Upgrade field on HTTP/1.1 (RFC 9110 §7.8): after this message the bytes are not HTTP/1.</summary>
    public bool IsUpgrade { get; internal set; }

    /// <summary>Bytes of this head on the wire, from the request line through the empty line (leading empty lines excluded).</summary>
    public int HeadLength { get; internal set; }

    public ReadOnlySpan<byte> Host => GetValue(KnownHeader.Host);

    public ReadOnlySpan<byte> ProxyAuthorization => GetValue(KnownHeader.ProxyAuthorization);

    public HeaderField GetHeader(int index)
    {
        ref readonly HeaderEntry entry = ref _headers.AsSpan(0, _headerCount)[index];
        return new HeaderField(_bytes.AsSpan(entry.NameOffset, entry.NameLength), _bytes.AsSpan(entry.ValueOffset, entry.ValueLength), entry.Known);
    }

    /// <summary>Index of the first field line with this name, or -1.</summary>
    public int IndexOf(KnownHeader header) => _firstIndex[(int)header] - 1;

    /// <summary>Index of the next field line with this name after <paramref name="after"/>, or -1.</summary>
    public int IndexOf(KnownHeader header, int after)
    {
        for (int i = after + 1; i < _headerCount; i++)
        {
            if (_headers[i].Known == header)
            {
                return i;
            }
        }

        return -1;
    }

    public bool Has(KnownHeader header) => _firstIndex[(int)header] != 0;

    /// <summary>Value of the first field line with this name, empty when absent.</summary>
    public ReadOnlySpan<byte> GetValue(KnownHeader header)
    {
        int index = _firstIndex[(int)header] - 1;
        if (index < 0)
        {
            return default;
        }

        ref readonly HeaderEntry entry = ref _headers[index];
        return _bytes.AsSpan(entry.ValueOffset, entry.ValueLength);
    }

    // ---- Filled by HttpRequestParser ----

    internal void Reset()
    {
        _used = 0;
        _headerCount = 0;
        _firstIndex.AsSpan().Clear();   // a span clear is inlined; Array.Clear(Array) was 0.3 % of a keep-alive profile
        _methodLength = _targetOffset = _targetLength = 0;
        _hostOffset = _hostLength = _pathOffset = _pathLength = 0;
        Method = KnownMethod.Custom;
        TargetForm = TargetForm.None;
        Version = RequestVersion.None;
        Scheme = SchemeKind.None;
        TargetHostKind = HostKind.None;
        TargetPort = 0;
        ConnectionOptions = ConnectionOptions.None;
        Framing = BodyFraming.None;
        ContentLength = 0;
        KeepAlive = false;
        ExpectContinue = false;
        IsUpgrade = false;
        HeadLength = 0;
        HasContentLength = false;
        TransferCodings = 0;
        ChunkedSeen = false;
    }

    /// <summary>
    /// Makes this head the <c>CONNECT host:port HTTP/1.1</c> a SOCKS5 request stands for, with the
    /// target checked by the same rules as an HTTP CONNECT's (visible ASCII, RFC 9112 §3.2.3
    /// authority-form); false when the destination cannot be one.
    /// </summary>
    internal bool SetConnect(ReadOnlySpan<byte> host, int port, bool ipv6)
    {
        Reset();
        if (host.IsEmpty || host.ContainsAnyExcept(HttpCharacters.Target))
        {
            return false;
        }

        ReadOnlySpan<byte> method = "CONNECT"u8;
        Span<byte> target = stackalloc byte[host.Length + 8];
        int n = 0;
        if (ipv6)
        {
            target[n++] = (byte)'[';
        }

        host.CopyTo(target[n..]);
        n += host.Length;
        if (ipv6)
        {
            target[n++] = (byte)']';
        }

        target[n++] = (byte)':';
        System.Buffers.Text.Utf8Formatter.TryFormat(port, target[n..], out int written);
        n += written;
        if (_bytes.Length < method.Length + n)
        {
            Grow(method.Length + n);
        }

        method.CopyTo(_bytes);
        target[..n].CopyTo(_bytes.AsSpan(method.Length));
        _used = method.Length + n;
        SetRequestLine(KnownMethod.Connect, method.Length, method.Length, n, RequestVersion.Http11);
        if (TargetParser.Parse(target[..n], KnownMethod.Connect, out TargetParts parts) != RejectReason.None || parts.Form != TargetForm.Authority)
        {
            return false;
        }

        SetTarget(parts);
        return true;
    }

    internal bool HasContentLength { get; set; }

    /// <summary>Transfer codings listed so far over all Transfer-Encoding lines.</summary>
    internal int TransferCodings { get; set; }

    /// <summary>Whether chunked was listed; it must then be the last coding (RFC 9112 §6.1).</summary>
    internal bool ChunkedSeen { get; set; }

    /// <summary>Copies one validated line (without CRLF) into the buffer and returns where it starts.</summary>
    internal int Append(in ReadOnlySequence<byte> line)
    {
        int length = checked((int)line.Length);
        if (_bytes.Length - _used < length)
        {
            Grow(length);
        }

        int offset = _used;
        line.CopyTo(_bytes.AsSpan(offset, length));
        _used += length;
        return offset;
    }

    internal ReadOnlySpan<byte> Bytes(int offset, int length) => _bytes.AsSpan(offset, length);

    internal void SetRequestLine(KnownMethod method, int methodLength, int targetOffset, int targetLength, RequestVersion version)
    {
        Method = method;
        _methodLength = methodLength;
        _targetOffset = targetOffset;
        _targetLength = targetLength;
        Version = version;
    }

    internal void SetTarget(in TargetParts parts)
    {
        TargetForm = parts.Form;
        Scheme = parts.Scheme;
        TargetHostKind = parts.HostKind;
        TargetPort = parts.Port;
        _hostOffset = _targetOffset + parts.HostOffset;
        _hostLength = parts.HostLength;
        _pathOffset = _targetOffset + parts.PathOffset;
        _pathLength = parts.PathLength;
    }

    internal void AddHeader(in HeaderEntry entry)
    {
        if (_headerCount == _headers.Length)
        {
            Array.Resize(ref _headers, _headers.Length * 2);
        }

        if (_firstIndex[(int)entry.Known] == 0 && entry.Known != KnownHeader.None)
        {
            _firstIndex[(int)entry.Known] = _headerCount + 1;
        }

        _headers[_headerCount++] = entry;
    }

    private void Grow(int needed)
    {
        int size = Math.Max(_bytes.Length * 2, _used + needed);
        Array.Resize(ref _bytes, size);
    }
}
