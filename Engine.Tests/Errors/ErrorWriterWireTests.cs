using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Engine.Errors;

namespace Engine.Tests.Errors;

/// <summary>
/// Every code, written by the real writer, served from a loopback socket and read back by HttpClient's
/// HTTP/1.1 parser (SocketsHttpHandler) and System.Text.Json: if either rejects a byte, the test fails.
/// </summary>
public class ErrorWriterWireTests
{
    // RFC 9209 §2.3, the IANA "HTTP Proxy-Status Error Types" registry.
    private static readonly HashSet<string> s_rfc9209Types =
    [
        "dns_timeout", "dns_error", "destination_not_found", "destination_unavailable", "destination_ip_prohibited",
        "destination_ip_unroutable", "connection_refused", "connection_terminated", "connection_timeout",
        "connection_read_timeout", "connection_write_timeout", "connection_limit_reached", "tls_protocol_error",
        "tls_certificate_error", "tls_alert_received", "http_request_error", "http_request_denied",
        "http_response_incomplete", "http_response_header_section_size", "http_response_header_size",
        "http_response_body_size", "http_response_trailer_section_size", "http_response_trailer_size",
        "http_response_transfer_coding", "http_response_content_coding", "http_response_timeout",
        "http_upgrade_failed", "http_protocol_error", "proxy_internal_response", "proxy_internal_error",
        "proxy_configuration_error", "proxy_loop_detected",
    ];

    private static readonly string[] s_headerOrder =
    [
        "Via", "X-Proxy-Error", "X-Proxy-Detail", "X-Proxy-Correlation-Id", "Proxy-Status",
        "Proxy-Authenticate", "Retry-After", "Content-Type", "Content-Length", "Connection",
    ];

    public static TheoryData<ErrorCode> AllCodes => new(ErrorExample.Codes);

    [Theory]
    [MemberData(nameof(AllCodes))]
    public async Task Write_EveryCode_ParsesWithHttpClientAndMatchesTheContract(ErrorCode code)
    {
        ErrorDescriptor row = ErrorCatalog.Get(code);
        ErrorExample example = ErrorExample.For(code);
        var writer = new ErrorWriter(ErrorExample.DefaultOptions);
        CorrelationId id = CorrelationId.Next();
        byte[] raw = example.Render(writer, id);
        string detail = example.Detail.Length > 0 ? example.Detail : row.DefaultDetail;

        (HttpResponseMessage response, byte[] body) = await LoopbackServer.GetAsync(raw);
        using (response)
        {
            Assert.Equal(row.Status, (int)response.StatusCode);
            Assert.Equal(row.ReasonPhrase, response.ReasonPhrase);
            Assert.Equal(new Version(1, 1), response.Version);

            Assert.Equal("1.1 engine", Header(response, "Via"));
            Assert.Equal(row.Name, Header(response, "X-Proxy-Error"));
            Assert.Equal(detail, Header(response, "X-Proxy-Detail"));
            Assert.Equal(id.ToString(), Header(response, "X-Proxy-Correlation-Id"));

            string proxyStatusType = WireNames.Of(row.ProxyStatus);
            Assert.Contains(proxyStatusType, s_rfc9209Types);
            Assert.Equal($"engine; error={proxyStatusType}; details=\"{detail}\"", Header(response, "Proxy-Status"));

            if (row.Status == 407)
            {
                Assert.Equal("Basic realm=\"proxy\"", Header(response, "Proxy-Authenticate"));
                Assert.Equal("Basic", Assert.Single(response.Headers.ProxyAuthenticate).Scheme);
            }
            else
            {
                Assert.Null(Header(response, "Proxy-Authenticate"));
            }

            Assert.Equal(example.ExpectedRetryAfter?.ToString(System.Globalization.CultureInfo.InvariantCulture), Header(response, "Retry-After"));
            if (example.ExpectedRetryAfter is int seconds)
            {
                Assert.Equal(TimeSpan.FromSeconds(seconds), response.Headers.RetryAfter?.Delta);
            }

            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(body.Length, response.Content.Headers.ContentLength);
            Assert.Equal(example.KeepAlive ? "keep-alive" : "close", Header(response, "Connection"));
            Assert.Equal(!example.KeepAlive, response.Headers.ConnectionClose ?? false);
        }

        AssertRawHead(raw, body.Length, example.ExpectedRetryAfter is not null, row.Status == 407);
        AssertBody(body, row, example, detail, id);
    }

    [Fact]
    public void Write_TryWriteAndBufferWriter_ProduceTheSameBytes()
    {
        var writer = new ErrorWriter(ErrorExample.DefaultOptions);
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            ErrorExample example = ErrorExample.For(code);
            byte[] viaBufferWriter = example.Render(writer);
            var destination = new byte[writer.GetMaxByteCount(example.ToResponse(ErrorExample.ExampleId))];
            Assert.True(writer.TryWrite(destination, example.ToResponse(ErrorExample.ExampleId), out int written));
            Assert.Equal(viaBufferWriter, destination[..written]);
            Assert.False(writer.TryWrite(destination.AsSpan(0, destination.Length - 1), example.ToResponse(ErrorExample.ExampleId), out _));
        }
    }

    [Fact]
    public void Write_CustomOptions_AreUsedInViaProxyStatusRealmAndType()
    {
        var writer = new ErrorWriter(new ErrorWriterOptions { EngineName = "gw-eu1", Realm = "Acme Proxy", TypeBase = "https://docs.acme.test/errors" });
        byte[] raw = ErrorExample.For(ErrorCode.AuthFailed).Render(writer);
        string text = Encoding.ASCII.GetString(raw);
        Assert.Contains("\r\nVia: 1.1 gw-eu1\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\r\nProxy-Status: gw-eu1; error=http_request_denied; details=", text, StringComparison.Ordinal);
        Assert.Contains("\r\nProxy-Authenticate: Basic realm=\"Acme Proxy\"\r\n", text, StringComparison.Ordinal);
        using JsonDocument json = JsonDocument.Parse(raw.AsSpan(Array.IndexOf(raw, (byte)'{')).ToArray());
        Assert.Equal("https://docs.acme.test/errors/auth_failed", json.RootElement.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("", "proxy", ErrorWriterOptions.DefaultTypeBase)]
    [InlineData("my engine", "proxy", ErrorWriterOptions.DefaultTypeBase)]
    [InlineData("1engine", "proxy", ErrorWriterOptions.DefaultTypeBase)]
    [InlineData("engine;x", "proxy", ErrorWriterOptions.DefaultTypeBase)]
    [InlineData("engine", "", ErrorWriterOptions.DefaultTypeBase)]
    [InlineData("engine", "bad\"realm", ErrorWriterOptions.DefaultTypeBase)]
    [InlineData("engine", "bad\r\nrealm", ErrorWriterOptions.DefaultTypeBase)]
    [InlineData("engine", "r\u00e9alm", ErrorWriterOptions.DefaultTypeBase)]
    [InlineData("engine", "proxy", "not a uri")]
    [InlineData("engine", "proxy", "relative/errors")]
    [InlineData("engine", "proxy", "https://x.test/\"quoted")]
    public void Constructor_InvalidOptions_Throws(string name, string realm, string typeBase)
    {
        var options = new ErrorWriterOptions { EngineName = name, Realm = realm, TypeBase = typeBase };
        Assert.NotEmpty(options.Validate());
        Assert.Throws<ArgumentException>(() => new ErrorWriter(options));
    }

    [Fact]
    public void Write_EmptyMethodAndTarget_OmitsInstance()
    {
        var writer = new ErrorWriter(ErrorExample.DefaultOptions);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        writer.Write(buffer, new ErrorResponse(ErrorCode.BadRequest) { CorrelationId = ErrorExample.ExampleId });
        using JsonDocument json = ParseBody(buffer.WrittenSpan.ToArray());
        Assert.False(json.RootElement.TryGetProperty("instance", out _));
        Assert.Equal("Malformed HTTP/1.1 request", json.RootElement.GetProperty("detail").GetString());
        Assert.Contains("\r\nConnection: close\r\n\r\n", Encoding.ASCII.GetString(buffer.WrittenSpan), StringComparison.Ordinal);
    }

    [Fact]
    public void Write_None_Throws()
    {
        var writer = new ErrorWriter(ErrorExample.DefaultOptions);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(buffer, new ErrorResponse(ErrorCode.None)));
    }

    internal static JsonDocument ParseBody(byte[] raw)
    {
        int headEnd = raw.AsSpan().IndexOf("\r\n\r\n"u8);
        return JsonDocument.Parse(raw.AsMemory(headEnd + 4));
    }

    private static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.NonValidated.TryGetValues(name, out HeaderStringValues values)
            || response.Content.Headers.NonValidated.TryGetValues(name, out values))
        {
            return Assert.Single(values);
        }

        return null;
    }

    private static void AssertRawHead(byte[] raw, int bodyLength, bool retryAfter, bool authenticate)
    {
        int headEnd = raw.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(headEnd > 0);
        Assert.Equal(raw.Length, headEnd + 4 + bodyLength);
        string[] lines = Encoding.ASCII.GetString(raw, 0, headEnd).Split("\r\n");
        Assert.StartsWith("HTTP/1.1 ", lines[0], StringComparison.Ordinal);
        string[] names = lines.Skip(1).Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)]).ToArray();
        string[] expected = s_headerOrder
            .Where(h => (h != "Retry-After" || retryAfter) && (h != "Proxy-Authenticate" || authenticate))
            .ToArray();
        Assert.Equal(expected, names);
        Assert.All(lines, l => Assert.All(l, c => Assert.InRange(c, ' ', '~')));
        Assert.DoesNotContain(lines.Skip(1), l => l.Contains(":  ", StringComparison.Ordinal));
    }

    private static void AssertBody(byte[] body, ErrorDescriptor row, ErrorExample example, string detail, CorrelationId id)
    {
        using JsonDocument json = JsonDocument.Parse(body);
        JsonElement root = json.RootElement;
        var members = root.EnumerateObject().Select(p => p.Name).ToList();

        Assert.Equal("https://proxy.invalid/docs/errors.md#" + row.Name.ToLowerInvariant(), root.GetProperty("type").GetString());
        Assert.Equal(row.Title, root.GetProperty("title").GetString());
        Assert.Equal(row.Status, root.GetProperty("status").GetInt32());
        Assert.Equal(row.Name, root.GetProperty("code").GetString());
        Assert.Equal(detail, root.GetProperty("detail").GetString());
        string instance = root.GetProperty("instance").GetString()!;
        string expectedInstance = $"{example.Method} {example.Target}";
        if (example.Target.Length > ErrorWriter.MaxTargetBytes)
        {
            Assert.Equal($"{example.Method} {example.Target[..ErrorWriter.MaxTargetBytes]}...", instance);
        }
        else
        {
            Assert.Equal(expectedInstance, instance);
        }

        Assert.Equal(id.ToString(), root.GetProperty("correlationId").GetString());
        Assert.Equal(WireNames.Of(row.Retry), root.GetProperty("retry").GetString());

        var expectedMembers = new List<string> { "type", "title", "status", "code", "detail", "instance", "correlationId", "retry" };
        if (example.ExpectedRetryAfter is int seconds)
        {
            expectedMembers.Add("retryAfterSeconds");
            Assert.Equal(seconds, root.GetProperty("retryAfterSeconds").GetInt32());
        }

        if (example.LimitedBy != LimitedBy.None)
        {
            expectedMembers.Add("limitedBy");
            Assert.Equal(WireNames.Of(example.LimitedBy), root.GetProperty("limitedBy").GetString());
        }

        if (example.Filters.Length > 0)
        {
            expectedMembers.Add("filters");
            string[] filters = root.GetProperty("filters").EnumerateArray().Select(e => e.GetString()!).ToArray();
            Assert.Equal(example.Filters.Split(',', StringSplitOptions.TrimEntries), filters);
        }

        if (example.NodeId.Length > 0)
        {
            expectedMembers.Add("nodeId");
            Assert.Equal(example.NodeId, root.GetProperty("nodeId").GetString());
        }

        if (example.Attempts is int attempts)
        {
            expectedMembers.Add("attempts");
            Assert.Equal(attempts, root.GetProperty("attempts").GetInt32());
        }

        if (example.Param.Length > 0)
        {
            expectedMembers.Add("param");
            Assert.Equal(example.Param, root.GetProperty("param").GetString());
        }

        if (example.UpstreamStatus > 0)
        {
            expectedMembers.Add("upstream");
            JsonElement upstream = root.GetProperty("upstream");
            Assert.Equal(["nodeId", "status", "error", "source"], upstream.EnumerateObject().Select(p => p.Name));
            Assert.Equal(example.NodeId, upstream.GetProperty("nodeId").GetString());
            Assert.Equal(example.UpstreamStatus, upstream.GetProperty("status").GetInt32());
            Assert.Equal(example.UpstreamError, upstream.GetProperty("error").GetString());
            Assert.Equal(example.UpstreamSource, upstream.GetProperty("source").GetString());
        }

        Assert.Equal(expectedMembers, members);
    }
}
