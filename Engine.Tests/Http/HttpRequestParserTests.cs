using System.Buffers;
using System.Diagnostics;
using System.Text;
using Engine.Errors;
using Engine.Http;

namespace Engine.Tests.Http;

public class HttpRequestParserTests
{
    private const string ProxyGet =
        "GET http://www.example.com:8080/path/page.html?q=1&r=2 HTTP/1.1\r\n" +
        "Host: www.example.com:8080\r\n" +
        "User-Agent: Mozilla/5.0\r\n" +
        "Proxy-Authorization: Basic dXNlci1jb3VudHJ5LXVzOnBhc3M=\r\n" +
        "Connection: keep-alive\r\n" +
        "\r\n";

    [Fact]
    public void ParseHead_AbsoluteFormGet_ExposesTargetPartsAndKnownHeaders()
    {
        var (status, _, head, consumed) = ParserHarness.Parse(ProxyGet);

        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal(ProxyGet.Length, consumed);
        Assert.Equal(ProxyGet.Length, head.HeadLength);
        Assert.Equal(KnownMethod.Get, head.Method);
        Assert.Equal(TargetForm.Absolute, head.TargetForm);
        Assert.Equal(SchemeKind.Http, head.Scheme);
        Assert.Equal("www.example.com", ParserHarness.Latin1(head.TargetHost));
        Assert.Equal(HostKind.Name, head.TargetHostKind);
        Assert.Equal(8080, head.TargetPort);
        Assert.Equal("/path/page.html?q=1&r=2", ParserHarness.Latin1(head.TargetPathAndQuery));
        Assert.Equal(RequestVersion.Http11, head.Version);
        Assert.Equal("Basic dXNlci1jb3VudHJ5LXVzOnBhc3M=", ParserHarness.Latin1(head.ProxyAuthorization));
        Assert.Equal("www.example.com:8080", ParserHarness.Latin1(head.Host));
        Assert.Equal(KnownHeader.UserAgent, head.GetHeader(head.IndexOf(KnownHeader.UserAgent)).Known);
        Assert.Equal(ConnectionOptions.KeepAlive, head.ConnectionOptions);
        Assert.True(head.KeepAlive);
        Assert.Equal(BodyFraming.None, head.Framing);
    }

    [Theory]
    [InlineData("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "example.com", 443, nameof(HostKind.Name))]
    [InlineData("CONNECT 10.1.2.3:8443 HTTP/1.1\r\nHost: 10.1.2.3:8443\r\n\r\n", "10.1.2.3", 8443, nameof(HostKind.IPv4))]
    [InlineData("CONNECT [::ffff:10.0.0.1]:443 HTTP/1.1\r\nHost: [::ffff:10.0.0.1]:443\r\n\r\n", "::ffff:10.0.0.1", 443, nameof(HostKind.IPv6))]
    public void ParseHead_Connect_IsAuthorityFormWithoutBody(string text, string host, int port, string kind)
    {
        var (status, _, head, _) = ParserHarness.Parse(text);

        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal(KnownMethod.Connect, head.Method);
        Assert.Equal(TargetForm.Authority, head.TargetForm);
        Assert.Equal(host, ParserHarness.Latin1(head.TargetHost));
        Assert.Equal(port, head.TargetPort);
        Assert.Equal(Enum.Parse<HostKind>(kind), head.TargetHostKind);
        Assert.Equal(BodyFraming.None, head.Framing);
    }

    [Theory]
    [InlineData("https://example.com/", nameof(SchemeKind.Https), 443)]
    [InlineData("HTTP://example.com", nameof(SchemeKind.Http), 80)]
    [InlineData("ftp://example.com/", nameof(SchemeKind.Other), 0)]
    [InlineData("http://example.com:/x", nameof(SchemeKind.Http), 80)]
    public void ParseHead_AbsoluteForm_DefaultsPortByScheme(string target, string scheme, int port)
    {
        var (status, _, head, _) = ParserHarness.Parse($"GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n");

        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal(Enum.Parse<SchemeKind>(scheme), head.Scheme);
        Assert.Equal(port, head.TargetPort);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", nameof(RejectReason.MissingHost))]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", nameof(RejectReason.DuplicateHost))]
    [InlineData("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", nameof(RejectReason.InvalidHost))]
    [InlineData("CONNECT a:443 HTTP/1.1\r\n\r\n", nameof(RejectReason.MissingHost))]
    public void ParseHead_DefaultPolicy_RejectsMissingDuplicateOrInvalidHost(string text, string reason)
    {
        Assert.True(HttpParserLimits.Default.RequireHost);
        var (status, actual, _, _) = ParserHarness.Parse(text);

        Assert.Equal(ParseStatus.Rejected, status);
        Assert.Equal(Enum.Parse<RejectReason>(reason), actual);
        Assert.Equal(ErrorCode.BadRequest, RejectReasons.ToErrorCode(actual));
    }

    [Fact]
    public void ParseHead_RequireHostOff_AcceptsMissingHostButNotDuplicate()
    {
        var lenient = HttpParserLimits.Default with { RequireHost = false };

        Assert.Equal(ParseStatus.Complete, ParserHarness.Parse("GET / HTTP/1.1\r\n\r\n", lenient).Status);
        Assert.Equal(RejectReason.DuplicateHost, ParserHarness.Parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", lenient).Reason);
    }

    [Theory]
    [InlineData("HTTP/1.1", "", true)]
    [InlineData("HTTP/1.1", "Connection: close\r\n", false)]
    [InlineData("HTTP/1.1", "Connection: keep-alive, CLOSE\r\n", false)]
    [InlineData("HTTP/1.0", "", false)]
    [InlineData("HTTP/1.0", "Connection: Keep-Alive\r\n", true)]
    [InlineData("HTTP/1.0", "Connection: keep-alive\r\nConnection: close\r\n", false)]
    public void ParseHead_KeepAlive_FollowsVersionAndConnection(string version, string connection, bool keepAlive)
    {
        var (status, _, head, _) = ParserHarness.Parse($"GET / {version}\r\nHost: a\r\n{connection}\r\n");

        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal(keepAlive, head.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1", "Expect: 100-continue\r\n", true)]
    [InlineData("HTTP/1.1", "Expect: 100-Continue\r\n", true)]
    [InlineData("HTTP/1.1", "Expect: something-else\r\n", false)]
    [InlineData("HTTP/1.0", "Expect: 100-continue\r\n", false)]
    public void ParseHead_Expect_RecognisesContinueOnHttp11Only(string version, string expect, bool expected)
    {
        var (status, _, head, _) = ParserHarness.Parse($"POST / {version}\r\nHost: a\r\nContent-Length: 3\r\n{expect}\r\n");

        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal(expected, head.ExpectContinue);
        Assert.Equal(BodyFraming.ContentLength, head.Framing);
        Assert.Equal(3, head.ContentLength);
    }

    [Fact]
    public void ParseHead_ExpectContinue_HeadCompletesBeforeAnyBodyByte()
    {
        // The connection must be able to answer 100 Continue before the client sends the body.
        var (status, _, head, consumed) = ParserHarness.Parse("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n");

        Assert.Equal(ParseStatus.Complete, status);
        Assert.True(head.ExpectContinue);
        Assert.Equal(head.HeadLength, consumed);
    }

    [Theory]
    [InlineData("Connection: Upgrade\r\nUpgrade: websocket\r\n", true)]
    [InlineData("Connection: upgrade\r\n", false)]
    [InlineData("Upgrade: websocket\r\n", false)]
    public void ParseHead_Upgrade_NeedsConnectionTokenAndUpgradeField(string fields, bool upgrade)
    {
        var (_, _, head, _) = ParserHarness.Parse($"GET /ws HTTP/1.1\r\nHost: a\r\n{fields}\r\n");

        Assert.Equal(upgrade, head.IsUpgrade);
    }

    [Fact]
    public void ParseHead_Pipelined_ParsesEachRequestAndResetsTheHead()
    {
        byte[] input = Encoding.ASCII.GetBytes(
            "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
            "GET /b HTTP/1.1\r\nHost: b\r\n\r\n" +
            "GET /c HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n");

        DriverOutcome outcome = HttpTestDriver.Run(input, FeedMode.Whole, HttpParserLimits.Default);

        Assert.False(outcome.Rejected);
        Assert.Equal(["/a", "/b", "/c"], outcome.Messages.Select(m => m.Url));
        Assert.Equal("abc", Encoding.ASCII.GetString(outcome.Messages[0].Body));
        Assert.Single(outcome.Messages[1].Headers);
        Assert.False(outcome.Incomplete);
    }

    [Fact]
    public void ParseHead_AfterClose_RejectsFurtherData()
    {
        byte[] input = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n\r\n");

        DriverOutcome outcome = HttpTestDriver.Run(input, FeedMode.Whole, HttpParserLimits.Default);

        Assert.True(outcome.Rejected);
        Assert.Equal(RejectReason.DataAfterClose, outcome.Reason);
        Assert.Single(outcome.Messages);
    }

    [Fact]
    public void ParseHead_RequestLineAtLimit_IsAcceptedAndOneMoreByteGets414()
    {
        var limits = HttpParserLimits.Default;
        string Line(int length) => "GET /" + new string('a', length - "GET / HTTP/1.1".Length) + " HTTP/1.1";

        Assert.Equal(ParseStatus.Complete, ParserHarness.Parse(Line(limits.MaxRequestLineBytes) + "\r\nHost: a\r\n\r\n").Status);
        var tooLong = ParserHarness.Parse(Line(limits.MaxRequestLineBytes + 1) + "\r\nHost: a\r\n\r\n");
        Assert.Equal(RejectReason.RequestLineTooLong, tooLong.Reason);
        Assert.Equal(414, RejectReasons.ToStatusCode(tooLong.Reason));
    }

    [Fact]
    public void ParseHead_EndlessTarget_IsRefusedAtTheLimitWithoutWaitingForCrlf()
    {
        // No CRLF ever arrives: the scan must stop at the budget, not buffer without end.
        var (status, reason, _, consumed) = ParserHarness.Parse("GET /" + new string('a', 20_000));

        Assert.Equal(ParseStatus.Rejected, status);
        Assert.Equal(RejectReason.RequestLineTooLong, reason);
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void ParseHead_HeaderSectionAtLimit_IsAcceptedAndOneMoreByteGets431()
    {
        var limits = HttpParserLimits.Default with { MaxRequestHeadBytes = 256 };
        // "Host: a\r\n" (9) + "X: " + value + "\r\n" + "\r\n" must total the budget.
        string Head(int valueLength) => "GET / HTTP/1.1\r\nHost: a\r\nX: " + new string('v', valueLength) + "\r\n\r\n";
        int exact = 256 - 9 - 3 - 2 - 2;

        Assert.Equal(ParseStatus.Complete, ParserHarness.Parse(Head(exact), limits).Status);
        var tooLarge = ParserHarness.Parse(Head(exact + 1), limits);
        Assert.Equal(RejectReason.HeadTooLarge, tooLarge.Reason);
        Assert.Equal(431, RejectReasons.ToStatusCode(tooLarge.Reason));
    }

    [Fact]
    public void ParseHead_HeaderCountAtLimit_IsAcceptedAndOneMoreGets431()
    {
        var limits = HttpParserLimits.Default;
        string Head(int count) => "GET / HTTP/1.1\r\nHost: a\r\n" + string.Concat(Enumerable.Range(1, count - 1).Select(i => $"X-{i}: v\r\n")) + "\r\n";

        Assert.Equal(ParseStatus.Complete, ParserHarness.Parse(Head(limits.MaxHeaderCount), limits).Status);
        Assert.Equal(RejectReason.TooManyHeaders, ParserHarness.Parse(Head(limits.MaxHeaderCount + 1), limits).Reason);
    }

    [Fact]
    public void ParseHead_OneByteAtATime_IsLinearInTheHeadSize()
    {
        // A 1 MiB field fed one byte per call: a parser that rescans from the line start would
        // do ~5*10^11 byte visits here and never finish; a linear one takes milliseconds.
        var limits = HttpParserLimits.Default with { MaxRequestHeadBytes = 1 << 24 };
        byte[] input = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('v', 1 << 20) + "\r\n\r\n");
        var stopwatch = Stopwatch.StartNew();

        DriverOutcome outcome = HttpTestDriver.Run(input, FeedMode.ByteByByte, limits);

        Assert.Single(outcome.Messages);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public void ParseHead_IncompleteLine_ConsumesOnlyCompleteLines()
    {
        var parser = new HttpRequestParser();
        var head = new RequestHead();
        byte[] partial = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: a\r\nAcc");
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(partial));

        Assert.Equal(ParseStatus.Incomplete, parser.ParseHead(ref reader, head));
        Assert.Equal("GET / HTTP/1.1\r\nHost: a\r\n".Length, reader.Consumed);
        Assert.True(parser.InProgress);
    }

    [Fact]
    public void KnownHeaders_Lookup_IsCaseInsensitiveAndExact()
    {
        Assert.Equal(KnownHeader.TransferEncoding, KnownHeaders.Lookup("tRANSFER-eNCODING"u8));
        Assert.Equal(KnownHeader.ProxyAuthorization, KnownHeaders.Lookup("Proxy-Authorization"u8));
        Assert.Equal(KnownHeader.Te, KnownHeaders.Lookup("TE"u8));
        Assert.Equal(KnownHeader.None, KnownHeaders.Lookup("Transfer_Encoding"u8));
        Assert.Equal(KnownHeader.None, KnownHeaders.Lookup("Content-Lengtx"u8));
        Assert.Equal(KnownHeader.None, KnownHeaders.Lookup("Hosu"u8));
    }

    [Theory]
    [InlineData("Transfer_Encoding", true)]
    [InlineData("CONTENT_length", true)]
    [InlineData("Content_Length", true)]
    [InlineData("Proxy_Connection", true)]
    [InlineData("keep_alive", true)]
    [InlineData("Proxy_Authorization", true)]
    [InlineData("Proxy_Authenticate", true)]
    [InlineData("Transfer-Encoding", false)]   // the real name: judged as itself
    [InlineData("X_Forwarded_For", false)]
    [InlineData("User_Agent", false)]
    [InlineData("Transfer__Encoding", false)]
    [InlineData("_", false)]
    public void FoldsToFramingOrHopByHop_OnlyUnderscoreSpellingsOfThoseFields(string name, bool folds) =>
        Assert.Equal(folds, KnownHeaders.FoldsToFramingOrHopByHop(System.Text.Encoding.ASCII.GetBytes(name)));

    [Fact]
    public void KnownMethods_Lookup_IsCaseSensitive()
    {
        Assert.Equal(KnownMethod.Connect, KnownMethods.Lookup("CONNECT"u8));
        Assert.Equal(KnownMethod.Options, KnownMethods.Lookup("OPTIONS"u8));
        Assert.Equal(KnownMethod.Custom, KnownMethods.Lookup("get"u8));
        Assert.Equal(KnownMethod.Custom, KnownMethods.Lookup("M-SEARCH"u8));
    }

    [Theory]
    [InlineData("::1", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("1:2:3:4:5:6:7:8", true)]
    [InlineData("::ffff:1.2.3.4", true)]
    [InlineData("fe80::", true)]
    [InlineData("1:2:3:4:5:6:7:8:9", false)]
    [InlineData("1::2::3", false)]
    [InlineData("12345::1", false)]
    [InlineData("::1%25eth0", false)]
    [InlineData("g::1", false)]
    public void AuthorityParser_IsIPv6_FollowsRfc3986(string text, bool valid) =>
        Assert.Equal(valid, AuthorityParser.IsIPv6(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void Limits_Validate_ReportsOutOfRangeValues()
    {
        Assert.Empty(HttpParserLimits.Default.Validate());
        var bad = HttpParserLimits.Default with { MaxRequestLineBytes = 0, MaxHeaderCount = -1 };
        Assert.Equal(2, bad.Validate().Count);
    }

    [Fact]
    public void RejectReasons_EveryReason_HasCodeStatusAndAsciiDetail()
    {
        foreach (RejectReason reason in Enum.GetValues<RejectReason>().Where(r => r != RejectReason.None))
        {
            Assert.NotEqual(ErrorCode.None, RejectReasons.ToErrorCode(reason));
            Assert.Contains(RejectReasons.ToStatusCode(reason), new[] { 400, 414, 431, 501, 505 });
            byte[] detail = RejectReasons.Detail(reason).ToArray();
            Assert.NotEmpty(detail);
            Assert.All(detail, b => Assert.InRange(b, (byte)0x20, (byte)0x7E));
        }
    }
}
