using System.Buffers;
using System.Text;
using System.Text.Json;
using Engine.Errors;

namespace Engine.Tests.Errors;

public class ErrorWriterEscapingTests
{
    private static readonly ErrorWriter s_writer = new(ErrorExample.DefaultOptions);

    public static TheoryData<string, byte[]> HostileValues => new()
    {
        { "quotes", "say \"hello\" to \"them\""u8.ToArray() },
        { "backslashes", @"C:\path\to\file \\ \"u8.ToArray() },
        { "header injection", "oops\r\nX-Injected: 1\r\n\r\n<html>"u8.ToArray() },
        { "nul", "a\0b"u8.ToArray() },
        { "every control byte", [.. Enumerable.Range(0, 0x20).Select(b => (byte)b), 0x7F] },
        { "non-ascii", "naïve café 日本語 😀 \u2028 end"u8.ToArray() },
        { "lone 0xFF", [(byte)'a', 0xFF, (byte)'b'] },
        { "lone continuation", [(byte)'a', 0x80, 0x80, (byte)'b'] },
        { "overlong slash", [(byte)'a', 0xC0, 0xAF, (byte)'b'] },
        { "utf-16 surrogate as utf-8", [(byte)'a', 0xED, 0xA0, 0x80, (byte)'b'] },
        { "truncated sequence at end", [(byte)'a', 0xE6, 0x97] },
        { "json breaking", "\"},\"status\":200,\"x\":{\""u8.ToArray() },
        { "sf-string breaking", "\"; error=none; x=\"\\"u8.ToArray() },
        { "very long ascii", Encoding.ASCII.GetBytes(new string('x', 100_000)) },
        { "very long multibyte", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("日", 10_000))) },
        { "very long controls", Enumerable.Repeat((byte)1, 50_000).ToArray() },
        { "very long invalid", Enumerable.Repeat((byte)0xFF, 50_000).ToArray() },
    };

    [Theory]
    [MemberData(nameof(HostileValues))]
    public async Task Write_HostileDetail_GivesValidJsonAndOneLineHeaders(string name, byte[] detail)
    {
        _ = name;
        byte[] raw = Write(new ErrorResponse(ErrorCode.BadRequest) { Detail = detail, Method = "GET"u8, Target = "http://example.com/"u8 });

        AssertHead(raw);
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        Assert.Equal(ExpectedEcho(detail, ErrorWriter.MaxDetailBytes), json.RootElement.GetProperty("detail").GetString());
        Assert.True(raw.Length < 6 * 1024, $"response of {raw.Length} bytes");

        (HttpResponseMessage response, byte[] body) = await LoopbackServer.GetAsync(raw);
        using (response)
        {
            Assert.Equal(400, (int)response.StatusCode);
            Assert.Equal(body.Length, response.Content.Headers.ContentLength);
            Assert.True(response.Headers.NonValidated.TryGetValues("X-Proxy-Detail", out _));
            Assert.False(response.Headers.Contains("X-Injected"));
        }
    }

    [Theory]
    [MemberData(nameof(HostileValues))]
    public void Write_HostileTarget_GivesValidJsonInstance(string name, byte[] target)
    {
        _ = name;
        byte[] raw = Write(new ErrorResponse(ErrorCode.WrongUrl) { Method = "GET"u8, Target = target });

        AssertHead(raw);
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        Assert.Equal("GET " + ExpectedEcho(target, ErrorWriter.MaxTargetBytes), json.RootElement.GetProperty("instance").GetString());
    }

    [Theory]
    [MemberData(nameof(HostileValues))]
    public void Write_HostileExtensionMembers_GivesValidJson(string name, byte[] value)
    {
        _ = name;
        byte[] raw = Write(new ErrorResponse(ErrorCode.NodeNotFound)
        {
            Method = value,
            Target = value,
            Filters = value,
            NodeId = value,
            Param = value,
            LimitedBy = LimitedBy.Circuit,
            RetryAfterSeconds = int.MaxValue,
            Attempts = int.MaxValue,
        });

        AssertHead(raw);
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        Assert.Equal(int.MaxValue, json.RootElement.GetProperty("attempts").GetInt32());
        Assert.Equal(ExpectedEcho(value, ErrorWriter.MaxNodeIdBytes, ellipsis: false), json.RootElement.GetProperty("nodeId").GetString());
        if (value.Length <= ErrorWriter.MaxFiltersBytes)
        {
            Assert.Equal(JsonValueKind.Array, json.RootElement.GetProperty("filters").ValueKind);
        }
        else
        {
            // One over-long item without a separator: the partial item is dropped, so is the member.
            Assert.False(json.RootElement.TryGetProperty("filters", out _));
        }
    }

    [Fact]
    public void Write_LongTarget_IsTruncatedOnACharacterBoundaryWithAnEllipsis()
    {
        // 511 ASCII bytes then a 3-byte character straddling the 512-byte limit.
        byte[] target = [.. Encoding.ASCII.GetBytes(new string('a', 511)), .. "日本"u8, .. Encoding.ASCII.GetBytes(new string('b', 8000))];
        byte[] raw = Write(new ErrorResponse(ErrorCode.UriTooLong) { Method = "GET"u8, Target = target });
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        Assert.Equal("GET " + new string('a', 511) + "...", json.RootElement.GetProperty("instance").GetString());
    }

    [Fact]
    public void Write_FiltersCutInsideAnItem_DropsThePartialItem()
    {
        string filters = string.Join(", ", Enumerable.Range(0, 100).Select(i => $"city=city_number_{i}"));
        byte[] raw = Write(new ErrorResponse(ErrorCode.NodeNotFound) { Filters = Encoding.ASCII.GetBytes(filters) });
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        string[] items = json.RootElement.GetProperty("filters").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.NotEmpty(items);
        Assert.All(items, item => Assert.Matches("^city=city_number_[0-9]+$", item));
        Assert.Equal(Enumerable.Range(0, items.Length).Select(i => $"city=city_number_{i}"), items);
    }

    [Fact]
    public void Write_EmptyFilterItems_AreSkipped()
    {
        byte[] raw = Write(new ErrorResponse(ErrorCode.NodeNotFound) { Filters = " , country=us,,  network=mob , "u8 });
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        Assert.Equal(["country=us", "network=mob"], json.RootElement.GetProperty("filters").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Write_NegativeRetryAfterAndAttempts_AreLeftOut()
    {
        byte[] raw = Write(new ErrorResponse(ErrorCode.NodeUnavailable) { RetryAfterSeconds = -1, Attempts = -3 });
        Assert.DoesNotContain("Retry-After", Encoding.ASCII.GetString(raw), StringComparison.Ordinal);
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        Assert.False(json.RootElement.TryGetProperty("retryAfterSeconds", out _));
        Assert.False(json.RootElement.TryGetProperty("attempts", out _));
    }

    [Theory]
    [InlineData(ErrorCode.RetriesExhausted, 5)]
    [InlineData(ErrorCode.GatewayTimeout, 2)]
    [InlineData(ErrorCode.NoProxy, 10)]
    [InlineData(ErrorCode.BoundNodeFailed, 10)]
    public void Write_NoRetryAfterGiven_SendsTheCatalogDefault(ErrorCode code, int seconds)
    {
        byte[] raw = Write(new ErrorResponse(code));
        Assert.Contains($"\r\nRetry-After: {seconds}\r\n", Encoding.ASCII.GetString(raw), StringComparison.Ordinal);
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        Assert.Equal(seconds, json.RootElement.GetProperty("retryAfterSeconds").GetInt32());
    }

    [Fact]
    public void Write_TrafficLimitWithoutAPeriod_HasNoRetryAfter()
    {
        byte[] raw = Write(new ErrorResponse(ErrorCode.TrafficLimitExceeded) { LimitedBy = LimitedBy.Traffic });
        Assert.DoesNotContain("Retry-After", Encoding.ASCII.GetString(raw), StringComparison.Ordinal);
    }

    [Fact]
    public void Write_UpstreamWithoutNodeOrError_WritesStatusAndEscapedSource()
    {
        byte[] raw = Write(new ErrorResponse(ErrorCode.NodeUnavailable) { UpstreamStatus = 500, UpstreamSource = "tiny\"proxy"u8 });
        using JsonDocument json = ErrorWriterWireTests.ParseBody(raw);
        JsonElement upstream = json.RootElement.GetProperty("upstream");
        Assert.Equal(["status", "source"], upstream.EnumerateObject().Select(p => p.Name));
        Assert.Equal(500, upstream.GetProperty("status").GetInt32());
        Assert.Equal("tiny\"proxy", upstream.GetProperty("source").GetString());
    }

    [Fact]
    public void Write_HeaderSanitising_ReplacesControlsWithSpaceAndNonAsciiWithOneQuestionMarkPerCharacter()
    {
        byte[] raw = Write(new ErrorResponse(ErrorCode.BadRequest) { Detail = [.. "a\r\nb\t\"c\\ é日😀"u8, 0xFF, (byte)'z'] });
        string head = Encoding.ASCII.GetString(raw);
        Assert.Contains("\r\nX-Proxy-Detail: a  b \"c\\ ????z\r\n", head, StringComparison.Ordinal);
        Assert.Contains("; details=\"a  b \\\"c\\\\ ????z\"\r\n", head, StringComparison.Ordinal);
    }

    /// <summary>What System.Text.Json should read back: the input decoded as UTF-8 (invalid → U+FFFD), cut at the limit.</summary>
    private static string ExpectedEcho(byte[] value, int limit, bool ellipsis = true)
    {
        if (value.Length <= limit)
        {
            return Encoding.UTF8.GetString(value);
        }

        int cut = limit;
        for (int i = 0; i < 3 && cut > 0 && (value[cut] & 0xC0) == 0x80; i++)
        {
            cut--;
        }

        return Encoding.UTF8.GetString(value, 0, cut) + (ellipsis ? "..." : "");
    }

    private static byte[] Write(in ErrorResponse response)
    {
        var buffer = new ArrayBufferWriter<byte>();
        s_writer.Write(buffer, response);
        return buffer.WrittenSpan.ToArray();
    }

    private static void AssertHead(byte[] raw)
    {
        int headEnd = raw.AsSpan().IndexOf("\r\n\r\n"u8);
        ReadOnlySpan<byte> head = raw.AsSpan(0, headEnd);
        foreach (byte b in head)
        {
            Assert.True(b == '\r' || b == '\n' || (b >= 0x20 && b < 0x7F), $"byte 0x{b:x2} in head");
        }

        string[] lines = Encoding.ASCII.GetString(head).Split("\r\n");
        Assert.All(lines, l => Assert.DoesNotContain('\n', l));
        Assert.All(lines, l => Assert.DoesNotContain('\r', l));
        Assert.Equal(raw.Length - headEnd - 4, int.Parse(lines.Single(l => l.StartsWith("Content-Length: ", StringComparison.Ordinal))[16..], System.Globalization.CultureInfo.InvariantCulture));

        string proxyStatus = lines.Single(l => l.StartsWith("Proxy-Status: ", StringComparison.Ordinal));
        AssertSfStringThenEnd(proxyStatus, proxyStatus.IndexOf("; details=\"", StringComparison.Ordinal) + 11);
    }

    // RFC 8941 §3.3.3: an sf-string is printable ASCII where only \" and \\ are escapes; it must close at the line end.
    private static void AssertSfStringThenEnd(string line, int start)
    {
        Assert.True(start > 11, line);
        int i = start;
        while (true)
        {
            Assert.True(i < line.Length, "unterminated sf-string");
            char c = line[i++];
            if (c == '\\')
            {
                Assert.True(i < line.Length && (line[i] == '"' || line[i] == '\\'), $"bad escape at {i} in {line}");
                i++;
            }
            else if (c == '"')
            {
                Assert.Equal(line.Length, i);
                return;
            }
            else
            {
                Assert.InRange(c, ' ', '~');
            }
        }
    }
}
