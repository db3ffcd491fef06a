using System.Net;
using System.Text;
using System.Text.Json;
using Engine.Diagnostics;

namespace Engine.Tests.Diagnostics;

public class AccessLogTests
{
    private static AccessLogEntry Entry(string target) => new()
    {
        Time = new DateTimeOffset(2026, 11, 23, 1, 2, 3, 456, TimeSpan.Zero),
        CorrelationId = "00ab12cd34ef5678"u8,
        Client = new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.1"), 5555),
        PackageId = "demo",
        Rules = "country-us-session-job1"u8,
        Method = "CONNECT"u8,
        Target = Encoding.Latin1.GetBytes(target),
        NodeId = "local",
        Status = 200,
        Code = default,
        BytesIn = 1234,
        BytesOut = 98765,
        Duration = TimeSpan.FromMilliseconds(1500),
        Termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Data),
    };

    [Fact]
    public void Format_Tunnel_WritesOneLogfmtLine()
    {
        byte[] buffer = new byte[4096];
        int n = AccessLogLogfmt.Format(Entry("example.com:443"), buffer);
        Assert.Equal(
            "2026-11-23T01:02:03.456Z cid=00ab12cd34ef5678 client=127.0.0.1:5555 pkg=demo rules=country-us-session-job1 method=CONNECT target=example.com:443 node=local status=200 code=- in=1234 out=98765 ms=1500 ts=CD\n",
            Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void Format_HostileTarget_StaysOneLineWithoutSpacesOrQuotes()
    {
        byte[] buffer = new byte[4096];
        int n = AccessLogLogfmt.Format(Entry("http://x/\"a b\r\nc=d\u00ff" + new string('z', 2000)), buffer);
        string line = Encoding.ASCII.GetString(buffer, 0, n);
        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        string target = line.Split(' ').Single(f => f.StartsWith("target=", StringComparison.Ordinal));
        Assert.DoesNotContain('"', target);
        Assert.Equal("target=".Length + 512, target.Length);
    }

    [Fact]
    public async Task Write_ReachesTheSink()
    {
        using var sink = new MemoryStream();
        await using (var log = new AccessLog(sink))
        {
            for (int i = 0; i < 100; i++)
            {
                log.Write(Entry("example.com:443"));
            }
        }

        string text = Encoding.ASCII.GetString(sink.ToArray());
        Assert.Equal(100, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    private static JsonElement ParseJson(AccessLogEntry entry)
    {
        byte[] buffer = new byte[AccessLogLineWriter.MaxLineBytes];
        int n = AccessLogJson.Format(entry, buffer);
        Assert.Equal((byte)'\n', buffer[n - 1]);
        Assert.True(Array.IndexOf(buffer, (byte)'\n', 0, n) == n - 1, "one line");
        using JsonDocument json = JsonDocument.Parse(buffer.AsMemory(0, n));
        return json.RootElement.Clone();
    }

    [Fact]
    public void FormatJson_Tunnel_ParsesWithEveryField()
    {
        AccessLogEntry entry = Entry("example.com:443");
        entry.Attempts = 2;
        JsonElement line = ParseJson(entry);

        Assert.Equal("2026-11-23T01:02:03.456Z", line.GetProperty("time").GetString());
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 1, 2, 3, 456, TimeSpan.Zero), line.GetProperty("time").GetDateTimeOffset());
        Assert.Equal("00ab12cd34ef5678", line.GetProperty("cid").GetString());
        Assert.Equal("127.0.0.1:5555", line.GetProperty("client").GetString());
        Assert.Equal("demo", line.GetProperty("pkg").GetString());
        Assert.Equal("country-us-session-job1", line.GetProperty("rules").GetString());
        Assert.Equal("CONNECT", line.GetProperty("method").GetString());
        Assert.Equal("example.com:443", line.GetProperty("target").GetString());
        Assert.Equal("local", line.GetProperty("node").GetString());
        Assert.Equal(200, line.GetProperty("status").GetInt32());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("code").ValueKind);
        Assert.Equal(1234, line.GetProperty("in").GetInt64());
        Assert.Equal(98765, line.GetProperty("out").GetInt64());
        Assert.Equal(1500, line.GetProperty("ms").GetInt64());
        Assert.Equal("CD", line.GetProperty("termination").GetString());
        Assert.Equal(2, line.GetProperty("attempts").GetInt32());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("upstream").ValueKind);
        Assert.Equal(16, line.EnumerateObject().Count());
    }

    // spec/errors.md: the upstream member (the node's status, its own error id and the signal) is in the log line too.
    [Fact]
    public void Format_TranslatedNodeError_CarriesTheUpstreamFields()
    {
        AccessLogEntry entry = Entry("http://name.invalid/");
        entry.NodeId = "de-squid";
        entry.Status = 502;
        entry.Code = "NAME_NOT_RESOLVED";
        entry.UpstreamStatus = 503;
        entry.UpstreamError = "ERR_DNS_FAIL"u8;
        entry.UpstreamSource = "X-Squid-Error"u8;

        JsonElement upstream = ParseJson(entry).GetProperty("upstream");
        Assert.Equal(503, upstream.GetProperty("status").GetInt32());
        Assert.Equal("ERR_DNS_FAIL", upstream.GetProperty("error").GetString());
        Assert.Equal("X-Squid-Error", upstream.GetProperty("source").GetString());

        byte[] buffer = new byte[AccessLogLineWriter.MaxLineBytes];
        string line = Encoding.ASCII.GetString(buffer, 0, AccessLogLogfmt.Format(entry, buffer));
        Assert.EndsWith(" node=de-squid status=502 code=NAME_NOT_RESOLVED in=1234 out=98765 ms=1500 ts=CD up_status=503 up_error=ERR_DNS_FAIL up_source=X-Squid-Error\n", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Format_EveryFieldAtItsCap_FitsTheLineBuffer()
    {
        byte[] huge = Encoding.Latin1.GetBytes(new string('"', 5000));
        AccessLogEntry entry = Entry("");
        entry.CorrelationId = huge;
        entry.Target = huge;
        entry.Method = huge;
        entry.PackageId = new string('"', 5000);
        entry.NodeId = new string('"', 5000);
        entry.Code = new string('"', 5000);
        entry.UpstreamStatus = 503;
        entry.UpstreamError = huge;
        entry.UpstreamSource = huge;
        entry.Client = new IPEndPoint(IPAddress.Parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 65535);

        JsonElement line = ParseJson(entry);
        Assert.Equal(AccessLogLineWriter.MaxUpstreamFieldBytes / 2, line.GetProperty("upstream").GetProperty("error").GetString()!.Length);
        byte[] buffer = new byte[AccessLogLineWriter.MaxLineBytes];
        Assert.InRange(AccessLogLogfmt.Format(entry, buffer), 1, AccessLogLineWriter.MaxLineBytes);
    }

    [Fact]
    public void FormatJson_ErrorWithoutPackageNodeOrClient_HasNullsAndTheCode()
    {
        AccessLogEntry entry = Entry("http://example.com/");
        entry.PackageId = default;
        entry.NodeId = default;
        entry.Client = null;
        entry.Status = 407;
        entry.Code = "AUTH_REQUIRED";
        JsonElement line = ParseJson(entry);

        Assert.Equal(JsonValueKind.Null, line.GetProperty("pkg").ValueKind);
        Assert.Equal(JsonValueKind.Null, line.GetProperty("node").ValueKind);
        Assert.Equal(JsonValueKind.Null, line.GetProperty("client").ValueKind);
        Assert.Equal("AUTH_REQUIRED", line.GetProperty("code").GetString());
        Assert.Equal(407, line.GetProperty("status").GetInt32());
    }

    [Fact]
    public void FormatJson_HostileTarget_EscapedLosslesslyAndCapped()
    {
        byte[] hostile = [.. "http://x/\"a\\b\r\nc=d"u8, 0x00, 0x1F, 0xFF, 0xC3];
        AccessLogEntry entry = Entry("");
        entry.Target = hostile;
        Assert.Equal("http://x/\"a\\b\r\nc=d\u0000\u001F\u00FF\u00C3", ParseJson(entry).GetProperty("target").GetString());

        entry.Target = Encoding.Latin1.GetBytes("\"" + new string('z', 2000));
        string capped = ParseJson(entry).GetProperty("target").GetString()!;
        Assert.StartsWith("\"zzz", capped, StringComparison.Ordinal);
        Assert.Equal(AccessLogLineWriter.MaxFieldBytes - 1, capped.Length);   // \" takes 2 of the 512 bytes
    }

    [Fact]
    public void FormatJson_NonAsciiPackageId_RoundTrips()
    {
        AccessLogEntry entry = Entry("example.com:443");
        entry.PackageId = "päckage-😀";
        Assert.Equal("päckage-😀", ParseJson(entry).GetProperty("pkg").GetString());
        entry.PackageId = "lone\ud800x";
        Assert.Equal("lone?x", ParseJson(entry).GetProperty("pkg").GetString());
    }

    [Fact]
    public async Task Write_Json_OneParseableObjectPerLine()
    {
        using var sink = new MemoryStream();
        await using (var log = new AccessLog(sink, AccessLogFormat.Json))
        {
            for (int i = 0; i < 100; i++)
            {
                log.Write(Entry("example.com:443"));
            }
        }

        string[] lines = Encoding.UTF8.GetString(sink.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(100, lines.Length);
        Assert.All(lines, l => Assert.Equal("CONNECT", JsonDocument.Parse(l).RootElement.GetProperty("method").GetString()));
    }

    private static AccessLogEntry Numbered(int i, Span<byte> id, int status, string? code)
    {
        AccessLogEntry entry = Entry("example.com:443");
        i.TryFormat(id, out int n, "x16", System.Globalization.CultureInfo.InvariantCulture);
        entry.CorrelationId = id[..n];
        entry.Status = status;
        entry.Code = code;
        return entry;
    }

    [Fact]
    public async Task Write_SuccessSampleRateTenth_KeepsEveryErrorAndAboutATenthOfSuccesses()
    {
        using var sink = new MemoryStream();
        const int Successes = 20_000;
        const int Errors = 2_000;
        await using (var log = new AccessLog(sink, AccessLogFormat.Json, successSampleRate: 0.1))
        {
            byte[] id = new byte[16];
            for (int i = 0; i < Successes; i++)
            {
                log.Write(Numbered(i, id, 200, null));
            }

            for (int i = 0; i < Errors; i++)
            {
                log.Write(Numbered(Successes + i, id, i % 2 == 0 ? 502 : 200, i % 2 == 0 ? "NODE_CONNECT_FAILED" : "UPSTREAM_RESET"));
            }
        }

        JsonElement[] lines = [.. Encoding.UTF8.GetString(sink.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
        int errors = lines.Count(l => l.GetProperty("code").ValueKind != JsonValueKind.Null);
        int successes = lines.Length - errors;
        Assert.Equal(Errors, errors);
        Assert.InRange(successes, Successes * 0.08, Successes * 0.12);
    }

    [Fact]
    public async Task Write_SameCorrelationId_SameSamplingDecision()
    {
        using var first = new MemoryStream();
        using var second = new MemoryStream();
        foreach (MemoryStream sink in (MemoryStream[])[first, second])
        {
            await using var log = new AccessLog(sink, AccessLogFormat.Logfmt, successSampleRate: 0.3);
            byte[] id = new byte[16];
            for (int i = 0; i < 1000; i++)
            {
                log.Write(Numbered(i, id, 200, null));
            }
        }

        Assert.NotEmpty(first.ToArray());
        Assert.Equal(first.ToArray(), second.ToArray());
    }

    [Fact]
    public async Task Write_SampleRateZero_KeepsOnlyErrors_AndCountsTheRest()
    {
        using var sink = new MemoryStream();
        var log = new AccessLog(sink, AccessLogFormat.Json, successSampleRate: 0);
        await using (log)
        {
            byte[] id = new byte[16];
            log.Write(Numbered(1, id, 200, null));
            log.Write(Numbered(2, id, 302, null));
            log.Write(Numbered(3, id, 403, "FORBIDDEN"));
            log.Write(Numbered(4, id, 0, null));
        }

        Assert.Equal(2, Encoding.UTF8.GetString(sink.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(2, log.SampledOut);
        Assert.Equal(2, log.Written);
    }

    [Fact]
    public async Task Write_SinkNeverDrains_DropsAndCountsInsteadOfBlocking()
    {
        using var stuck = new StuckStream();
        var log = new AccessLog(stuck, AccessLogFormat.Json);
        long lines = AccessLog.MaxBacklogBytes / 200 + 10_000;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (long i = 0; i < lines; i++)
        {
            log.Write(Entry("example.com:443"));
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "writes must not wait for the sink");
        Assert.True(log.Dropped > 0);
        Assert.Equal(lines, log.Dropped + log.Written);
        stuck.Release();
        await log.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }
}
