using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Engine.Errors;

/// <summary>
/// Formats a catalog error as a complete HTTP/1.1 response (spec/errors.md, "Wire format"): status line, the
/// engine's headers, then an RFC 9457 problem+json body. Everything that does not change per request is
/// pre-encoded per code at construction; per request the writer only copies templates, escapes the caller's
/// bytes and formats a few integers, straight into the output: no allocation.
/// </summary>
/// <remarks>
/// The body is written first, past the worst-case end of the head inside the same output span, so its length
/// is known for Content-Length; the head is then written at the start and the body moved down behind it.
/// Thread-safe: the templates are read-only.
/// </remarks>
internal sealed partial class ErrorWriter
{
    // Echo limits: an 8 KB request target must not make a 50 KB error (every byte may become a 6-byte escape).
    // 512 bytes keeps the useful part of any URL a scraper sends; the rest is replaced by "...".
    public const int MaxDetailBytes = 512;
    public const int MaxTargetBytes = 512;
    public const int MaxMethodBytes = 32;
    public const int MaxFiltersBytes = 512;
    public const int MaxNodeIdBytes = 64;
    public const int MaxParamBytes = 64;
    public const int MaxUpstreamErrorBytes = 64;
    public const int MaxUpstreamSourceBytes = 32;

    private const int MaxIntDigits = 10;
    private const int Slack = 16;

    private readonly Template[] _templates;

    public ErrorWriter(ErrorWriterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid error writer options: " + string.Join(" ", problems), nameof(options));
        }

        Options = options;
        _templates = BuildTemplates(options);
    }

    public ErrorWriterOptions Options { get; }

    /// <summary>An upper bound of the bytes <see cref="Write"/> produces for <paramref name="response"/>.</summary>
    public int GetMaxByteCount(in ErrorResponse response)
    {
        Prepared p = Prepare(in response);
        return HeadBound(in p) + BodyBound(in p);
    }

    /// <summary>Writes the whole response into <paramref name="output"/> and advances it; returns the byte count.</summary>
    public int Write(IBufferWriter<byte> output, in ErrorResponse response)
    {
        ArgumentNullException.ThrowIfNull(output);
        Prepared p = Prepare(in response);
        int headBound = HeadBound(in p);
        Span<byte> span = output.GetSpan(headBound + BodyBound(in p));
        int written = WriteCore(span, headBound, in p);
        output.Advance(written);
        return written;
    }

    /// <summary>
    /// Writes the whole response into <paramref name="destination"/>; false (nothing usable written) when it is
    /// shorter than <see cref="GetMaxByteCount"/>.
    /// </summary>
    public bool TryWrite(Span<byte> destination, in ErrorResponse response, out int bytesWritten)
    {
        Prepared p = Prepare(in response);
        int headBound = HeadBound(in p);
        if (destination.Length < headBound + BodyBound(in p))
        {
            bytesWritten = 0;
            return false;
        }

        bytesWritten = WriteCore(destination, headBound, in p);
        return true;
    }

    private Prepared Prepare(in ErrorResponse r)
    {
        uint index = (uint)r.Code;
        Template[] templates = _templates;
        if (index - 1 >= (uint)templates.Length - 1)
        {
            ThrowUnknownCode(r.Code);
        }

        Template t = templates[index];
        ReadOnlySpan<byte> filters = ErrorText.Truncate(r.Filters, MaxFiltersBytes, out bool filtersCut);
        if (filtersCut)
        {
            // Drop the item that was cut in half rather than report a filter the client never sent.
            int lastSeparator = filters.LastIndexOf(ErrorResponse.FilterSeparator);
            filters = lastSeparator < 0 ? default : filters[..lastSeparator];
        }

        return new Prepared
        {
            Template = t,
            Detail = ErrorText.Truncate(r.Detail.IsEmpty ? t.DefaultDetail : r.Detail, MaxDetailBytes, out bool detailCut),
            DetailCut = detailCut,
            Method = ErrorText.Truncate(r.Method, MaxMethodBytes, out _),
            Target = ErrorText.Truncate(r.Target, MaxTargetBytes, out bool targetCut),
            TargetCut = targetCut,
            Filters = filters,
            NodeId = ErrorText.Truncate(r.NodeId, MaxNodeIdBytes, out _),
            Param = ErrorText.Truncate(r.Param, MaxParamBytes, out _),
            UpstreamStatus = r.UpstreamStatus is > 0 and < 1000 ? r.UpstreamStatus : 0,
            UpstreamError = ErrorText.Truncate(r.UpstreamError, MaxUpstreamErrorBytes, out _),
            UpstreamSource = ErrorText.Truncate(r.UpstreamSource, MaxUpstreamSourceBytes, out _),
            RetryAfter = r.RetryAfterSeconds is int seconds && seconds >= 0 ? seconds : t.DefaultRetryAfter,
            Attempts = r.Attempts is int attempts && attempts >= 0 ? attempts : -1,
            LimitedBy = r.LimitedBy,
            CorrelationId = r.CorrelationId,
            KeepAlive = r.KeepAlive,
        };
    }

    private static int HeadBound(in Prepared p)
    {
        int detail = p.Detail.Length + ErrorText.Ellipsis.Length;
        Template t = p.Template;
        return t.Head.Length + detail
            + CorrelationHeader.Length + CorrelationId.Length
            + t.ProxyStatus.Length + (ErrorText.QuotedExpansion * detail) + t.AfterProxyStatus.Length
            + RetryAfterHeader.Length + MaxIntDigits + Crlf.Length
            + ContentHeaders.Length + MaxIntDigits + KeepAliveEnd.Length
            + Slack;
    }

    private static int BodyBound(in Prepared p)
    {
        const int J = ErrorText.JsonExpansion;
        int ellipsis = ErrorText.Ellipsis.Length;
        Template t = p.Template;
        return t.BodyHead.Length + (J * p.Detail.Length) + ellipsis
            + InstanceMember.Length + (J * (p.Method.Length + p.Target.Length)) + 1 + ellipsis
            + CorrelationMember.Length + CorrelationId.Length + t.BodyRetry.Length
            + RetryAfterMember.Length + MaxIntDigits
            + LimitedByMember.Length + MaxLimitedByLength + 1
            + FiltersMember.Length + ((J + 3) * p.Filters.Length) + 1
            + NodeIdMember.Length + (J * p.NodeId.Length) + 1
            + AttemptsMember.Length + MaxIntDigits
            + ParamMember.Length + (J * p.Param.Length) + 1
            + UpstreamBound(in p)
            + 1 + Slack;
    }

    private static int WriteCore(Span<byte> destination, int headBound, in Prepared p)
    {
        int bodyLength = WriteBody(destination[headBound..], in p);
        int headLength = WriteHead(destination, bodyLength, in p);
        Debug.Assert(headLength <= headBound, "head bound too small");
        destination.Slice(headBound, bodyLength).CopyTo(destination[headLength..]);
        return headLength + bodyLength;
    }

    private static int WriteHead(Span<byte> d, int bodyLength, in Prepared p)
    {
        Template t = p.Template;
        int pos = Copy(d, 0, t.Head);
        pos += ErrorText.WriteHeader(d[pos..], p.Detail, quoted: false);
        if (p.DetailCut)
        {
            pos = Copy(d, pos, ErrorText.Ellipsis);
        }

        pos = Copy(d, pos, CorrelationHeader);
        p.CorrelationId.TryFormat(d[pos..], out int idLength);
        pos += idLength;

        pos = Copy(d, pos, t.ProxyStatus);
        pos += ErrorText.WriteHeader(d[pos..], p.Detail, quoted: true);
        if (p.DetailCut)
        {
            pos = Copy(d, pos, ErrorText.Ellipsis);
        }

        pos = Copy(d, pos, t.AfterProxyStatus);
        if (p.RetryAfter >= 0)
        {
            pos = Copy(d, pos, RetryAfterHeader);
            pos = WriteInt(d, pos, p.RetryAfter);
            pos = Copy(d, pos, Crlf);
        }

        pos = Copy(d, pos, ContentHeaders);
        pos = WriteInt(d, pos, bodyLength);
        return Copy(d, pos, p.KeepAlive ? KeepAliveEnd : CloseEnd);
    }

    private static int WriteBody(Span<byte> d, in Prepared p)
    {
        Template t = p.Template;
        int pos = Copy(d, 0, t.BodyHead);
        pos += ErrorText.WriteJson(d[pos..], p.Detail);
        if (p.DetailCut)
        {
            pos = Copy(d, pos, ErrorText.Ellipsis);
        }

        if (!p.Method.IsEmpty || !p.Target.IsEmpty)
        {
            pos = Copy(d, pos, InstanceMember);
            pos += ErrorText.WriteJson(d[pos..], p.Method);
            if (!p.Method.IsEmpty && !p.Target.IsEmpty)
            {
                d[pos++] = (byte)' ';
            }

            pos += ErrorText.WriteJson(d[pos..], p.Target);
            if (p.TargetCut)
            {
                pos = Copy(d, pos, ErrorText.Ellipsis);
            }
        }

        pos = Copy(d, pos, CorrelationMember);
        p.CorrelationId.TryFormat(d[pos..], out int idLength);
        pos += idLength;
        pos = Copy(d, pos, t.BodyRetry);

        if (p.RetryAfter >= 0)
        {
            pos = Copy(d, pos, RetryAfterMember);
            pos = WriteInt(d, pos, p.RetryAfter);
        }

        if (p.LimitedBy != LimitedBy.None && (uint)p.LimitedBy < (uint)s_limitedBy.Length)
        {
            pos = Copy(d, pos, LimitedByMember);
            pos = Copy(d, pos, s_limitedBy[(int)p.LimitedBy]);
            d[pos++] = (byte)'"';
        }

        if (!p.Filters.IsEmpty)
        {
            pos = Copy(d, pos, FiltersMember);
            pos = WriteFilters(d, pos, p.Filters);
            d[pos++] = (byte)']';
        }

        if (!p.NodeId.IsEmpty)
        {
            pos = Copy(d, pos, NodeIdMember);
            pos += ErrorText.WriteJson(d[pos..], p.NodeId);
            d[pos++] = (byte)'"';
        }

        if (p.Attempts >= 0)
        {
            pos = Copy(d, pos, AttemptsMember);
            pos = WriteInt(d, pos, p.Attempts);
        }

        if (!p.Param.IsEmpty)
        {
            pos = Copy(d, pos, ParamMember);
            pos += ErrorText.WriteJson(d[pos..], p.Param);
            d[pos++] = (byte)'"';
        }

        if (p.UpstreamStatus > 0)
        {
            pos = WriteUpstream(d, pos, in p);
        }

        d[pos++] = (byte)'}';
        return pos;
    }

    // "upstream":{"nodeId":"…","status":503,"error":"ERR_DNS_FAIL","source":"X-Squid-Error"}: members with
    // nothing to say are left out, status never is.
    private static int WriteUpstream(Span<byte> d, int pos, in Prepared p)
    {
        pos = Copy(d, pos, UpstreamMember);
        if (!p.NodeId.IsEmpty)
        {
            pos = Copy(d, pos, UpstreamNodeIdMember);
            pos += ErrorText.WriteJson(d[pos..], p.NodeId);
            pos = Copy(d, pos, "\",\""u8);
        }
        else
        {
            d[pos++] = (byte)'"';
        }

        pos = Copy(d, pos, UpstreamStatusMember);
        pos = WriteInt(d, pos, p.UpstreamStatus);
        if (!p.UpstreamError.IsEmpty)
        {
            pos = Copy(d, pos, UpstreamErrorMember);
            pos += ErrorText.WriteJson(d[pos..], p.UpstreamError);
            d[pos++] = (byte)'"';
        }

        if (!p.UpstreamSource.IsEmpty)
        {
            pos = Copy(d, pos, UpstreamSourceMember);
            pos += ErrorText.WriteJson(d[pos..], p.UpstreamSource);
            d[pos++] = (byte)'"';
        }

        d[pos++] = (byte)'}';
        return pos;
    }

    private static int UpstreamBound(in Prepared p) => p.UpstreamStatus <= 0 ? 0
        : UpstreamMember.Length + UpstreamNodeIdMember.Length + (ErrorText.JsonExpansion * p.NodeId.Length) + 3
            + UpstreamStatusMember.Length + MaxIntDigits
            + UpstreamErrorMember.Length + (ErrorText.JsonExpansion * p.UpstreamError.Length) + 1
            + UpstreamSourceMember.Length + (ErrorText.JsonExpansion * p.UpstreamSource.Length) + 1 + 1;

    private static int WriteFilters(Span<byte> d, int pos, ReadOnlySpan<byte> filters)
    {
        bool first = true;
        while (!filters.IsEmpty)
        {
            int separator = filters.IndexOf(ErrorResponse.FilterSeparator);
            ReadOnlySpan<byte> item = separator < 0 ? filters : filters[..separator];
            filters = separator < 0 ? default : filters[(separator + 1)..];
            item = item.Trim((byte)' ');
            if (item.IsEmpty)
            {
                continue;
            }

            if (!first)
            {
                d[pos++] = (byte)',';
            }

            first = false;
            d[pos++] = (byte)'"';
            pos += ErrorText.WriteJson(d[pos..], item);
            d[pos++] = (byte)'"';
        }

        return pos;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Copy(Span<byte> destination, int pos, ReadOnlySpan<byte> value)
    {
        value.CopyTo(destination[pos..]);
        return pos + value.Length;
    }

    private static int WriteInt(Span<byte> destination, int pos, int value)
    {
        bool ok = Utf8Formatter.TryFormat(value, destination[pos..], out int written);
        Debug.Assert(ok, "bound reserves room for any int");
        return pos + written;
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    [StackTraceHidden]
    private static void ThrowUnknownCode(ErrorCode code) =>
        throw new ArgumentOutOfRangeException(nameof(code), code, "Not an error code of the catalog.");

    /// <summary>The request's values, bounded, with the code's templates: what both passes read.</summary>
    private readonly ref struct Prepared
    {
        public Template Template { get; init; }

        public ReadOnlySpan<byte> Detail { get; init; }

        public bool DetailCut { get; init; }

        public ReadOnlySpan<byte> Method { get; init; }

        public ReadOnlySpan<byte> Target { get; init; }

        public bool TargetCut { get; init; }

        public ReadOnlySpan<byte> Filters { get; init; }

        public ReadOnlySpan<byte> NodeId { get; init; }

        public ReadOnlySpan<byte> Param { get; init; }

        public int UpstreamStatus { get; init; }

        public ReadOnlySpan<byte> UpstreamError { get; init; }

        public ReadOnlySpan<byte> UpstreamSource { get; init; }

        public int RetryAfter { get; init; }

        public int Attempts { get; init; }

        public LimitedBy LimitedBy { get; init; }

        public CorrelationId CorrelationId { get; init; }

        public bool KeepAlive { get; init; }
    }
}
