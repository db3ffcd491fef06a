using System.Text;

namespace Engine.Errors;

internal sealed partial class ErrorWriter
{
    private static readonly byte[][] s_limitedBy = BuildLimitedBy();
    private static readonly int MaxLimitedByLength = MaxLength(s_limitedBy);

    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    private static ReadOnlySpan<byte> CorrelationHeader => "\r\nX-Proxy-Correlation-Id: "u8;

    private static ReadOnlySpan<byte> RetryAfterHeader => "Retry-After: "u8;

    private static ReadOnlySpan<byte> ContentHeaders => "Content-Type: application/problem+json\r\nContent-Length: "u8;

    private static ReadOnlySpan<byte> KeepAliveEnd => "\r\nConnection: keep-alive\r\n\r\n"u8;

    private static ReadOnlySpan<byte> CloseEnd => "\r\nConnection: close\r\n\r\n"u8;

    private static ReadOnlySpan<byte> InstanceMember => "\",\"instance\":\""u8;

    private static ReadOnlySpan<byte> CorrelationMember => "\",\"correlationId\":\""u8;

    private static ReadOnlySpan<byte> RetryAfterMember => ",\"retryAfterSeconds\":"u8;

    private static ReadOnlySpan<byte> LimitedByMember => ",\"limitedBy\":\""u8;

    private static ReadOnlySpan<byte> FiltersMember => ",\"filters\":["u8;

    private static ReadOnlySpan<byte> NodeIdMember => ",\"nodeId\":\""u8;

    private static ReadOnlySpan<byte> AttemptsMember => ",\"attempts\":"u8;

    private static ReadOnlySpan<byte> ParamMember => ",\"param\":\""u8;

    private static ReadOnlySpan<byte> UpstreamMember => ",\"upstream\":{"u8;

    private static ReadOnlySpan<byte> UpstreamNodeIdMember => "\"nodeId\":\""u8;

    private static ReadOnlySpan<byte> UpstreamStatusMember => "status\":"u8;

    private static ReadOnlySpan<byte> UpstreamErrorMember => ",\"error\":\""u8;

    private static ReadOnlySpan<byte> UpstreamSourceMember => ",\"source\":\""u8;

    private static Template[] BuildTemplates(ErrorWriterOptions options)
    {
        ReadOnlySpan<ErrorDescriptor> rows = ErrorCatalog.All;
        var templates = new Template[rows.Length];
        string name = options.EngineName;
        for (int i = 1; i < rows.Length; i++)
        {
            ErrorDescriptor row = rows[i];
            string authenticate = row.SendsProxyAuthenticate ? $"Proxy-Authenticate: Basic realm=\"{options.Realm}\"\r\n" : "";
            templates[i] = new Template(
                head: Ascii($"HTTP/1.1 {row.Status} {row.ReasonPhrase}\r\nVia: 1.1 {name}\r\nX-Proxy-Error: {row.Name}\r\nX-Proxy-Detail: "),
                proxyStatus: Ascii($"\r\nProxy-Status: {name}; error={WireNames.Of(row.ProxyStatus)}; details=\""),
                afterProxyStatus: Ascii("\"\r\n" + authenticate),
                bodyHead: Ascii(
                    $"{{\"type\":\"{Json(options.TypeUrl(row.Name))}\",\"title\":\"{Json(row.Title)}\",\"status\":{row.Status}," +
                    $"\"code\":\"{row.Name}\",\"detail\":\""),
                bodyRetry: Ascii($"\",\"retry\":\"{WireNames.Of(row.Retry)}\""),
                defaultDetail: Encoding.UTF8.GetBytes(row.DefaultDetail),
                defaultRetryAfter: row.DefaultRetryAfterSeconds);
        }

        return templates;
    }

    private static byte[][] BuildLimitedBy()
    {
        LimitedBy[] values = Enum.GetValues<LimitedBy>();
        var encoded = new byte[values.Length][];
        foreach (LimitedBy value in values)
        {
            encoded[(int)value] = Ascii(WireNames.Of(value));
        }

        return encoded;
    }

    private static int MaxLength(byte[][] values)
    {
        int max = 0;
        foreach (byte[] value in values)
        {
            max = Math.Max(max, value.Length);
        }

        return max;
    }

    private static byte[] Ascii(string value) => Encoding.ASCII.GetBytes(value);

    private static string Json(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        var escaped = new byte[utf8.Length * ErrorText.JsonExpansion];
        int length = ErrorText.WriteJson(escaped, utf8);
        return Encoding.UTF8.GetString(escaped, 0, length);
    }

    /// <summary>The pre-encoded, per-code pieces of a response, in the order they are written.</summary>
    private sealed class Template(byte[] head, byte[] proxyStatus, byte[] afterProxyStatus, byte[] bodyHead, byte[] bodyRetry, byte[] defaultDetail, int defaultRetryAfter)
    {
        /// <summary>Status line, Via, X-Proxy-Error, and the name of X-Proxy-Detail.</summary>
        public byte[] Head { get; } = head;

        /// <summary>Up to the opening quote of the Proxy-Status details sf-string.</summary>
        public byte[] ProxyStatus { get; } = proxyStatus;

        /// <summary>The closing quote, then Proxy-Authenticate on 407s.</summary>
        public byte[] AfterProxyStatus { get; } = afterProxyStatus;

        /// <summary>The body from <c>{</c> to the opening quote of <c>detail</c>.</summary>
        public byte[] BodyHead { get; } = bodyHead;

        /// <summary>Closes the correlation id and writes <c>retry</c>.</summary>
        public byte[] BodyRetry { get; } = bodyRetry;

        public byte[] DefaultDetail { get; } = defaultDetail;

        /// <summary>The catalog's Retry-After when the caller gives none; -1: none.</summary>
        public int DefaultRetryAfter { get; } = defaultRetryAfter;
    }
}
