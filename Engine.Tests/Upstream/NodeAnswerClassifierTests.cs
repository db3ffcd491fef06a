using System.Buffers;
using System.Text;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Tests.Errors;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>
/// The node-answer table against what real proxies answered (NodeAnswers/*.http, captured from squid 5.7 and
/// tinyproxy 1.11.1 on loopback, see NodeAnswers/README.md) and against what the providers document.
/// </summary>
public class NodeAnswerClassifierTests
{
    internal static ResponseHead Parse(byte[] raw, bool connect)
    {
        var head = new ResponseHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(raw));
        Assert.Equal(ResponseParseStatus.Complete, ResponseHeadParser.Default.Parse(ref reader, head, connect ? RequestMethodKind.Connect : RequestMethodKind.Other));
        return head;
    }

    private static NodeAnswer Classify(string head, bool connect = false) =>
        NodeAnswerClassifier.Classify(Parse(Encoding.Latin1.GetBytes(head), connect), connect);

    private static byte[] Captured(string file) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Upstream", "NodeAnswers", file));

    // file, CONNECT?, our code, blame, the node's error id, source
    public static TheoryData<string, bool, ErrorCode, string, string, string> CapturedAnswers => new()
    {
        // squid 5.7 loses the DNS error: "found all 0 destinations" becomes ERR_READ_ERROR 0 (GET) and ERR_CANNOT_FORWARD 0 (CONNECT).
        { "squid-dns-fail.http", false, ErrorCode.NameNotResolved, nameof(NodeAnswerBlame.Target), "ERR_READ_ERROR", "X-Squid-Error" },
        { "squid-connect-dns-fail.http", true, ErrorCode.NameNotResolved, nameof(NodeAnswerBlame.Target), "ERR_CANNOT_FORWARD", "X-Squid-Error" },
        { "squid-refused.http", false, ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "ERR_CONNECT_FAIL", "X-Squid-Error" },
        { "squid-connect-refused.http", true, ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "ERR_CONNECT_FAIL", "X-Squid-Error" },
        { "squid-read-timeout.http", false, ErrorCode.GatewayTimeout, nameof(NodeAnswerBlame.Target), "ERR_READ_TIMEOUT", "X-Squid-Error" },
        { "squid-reset.http", false, ErrorCode.TargetReset, nameof(NodeAnswerBlame.Target), "ERR_ZERO_SIZE_OBJECT", "X-Squid-Error" },
        { "squid-rst.http", false, ErrorCode.TargetReset, nameof(NodeAnswerBlame.Target), "ERR_READ_ERROR", "X-Squid-Error" },
        { "squid-half-head-reset.http", false, ErrorCode.TargetReset, nameof(NodeAnswerBlame.Target), "ERR_READ_ERROR", "X-Squid-Error" },
        { "squid-connect-port-denied.http", true, ErrorCode.BuildConnect, nameof(NodeAnswerBlame.Node), "ERR_ACCESS_DENIED", "X-Squid-Error" },
        // tinyproxy says "Unable to connect" for a refused port and an unknown name alike.
        { "tinyproxy-dns-fail.http", false, ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "Unable to connect", "tinyproxy" },
        { "tinyproxy-refused.http", false, ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "Unable to connect", "tinyproxy" },
        { "tinyproxy-connect-dns-fail.http", true, ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "Unable to connect", "tinyproxy" },
        { "tinyproxy-connect-refused.http", true, ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "Unable to connect", "tinyproxy" },
        { "tinyproxy-half-head-reset.http", false, ErrorCode.TargetReset, nameof(NodeAnswerBlame.Target), "Could not retrieve all the headers", "tinyproxy" },
        { "tinyproxy-connect-port-denied.http", true, ErrorCode.BuildConnect, nameof(NodeAnswerBlame.Node), "Access violation", "tinyproxy" },
    };

    [Theory]
    [MemberData(nameof(CapturedAnswers))]
    public void Classify_CapturedAnswer_TranslatesIt(string file, bool connect, ErrorCode code, string blame, string errorId, string source)
    {
        byte[] raw = Captured(file);
        ResponseHead head = Parse(raw, connect);

        NodeAnswer answer = NodeAnswerClassifier.Classify(head, connect);

        Assert.Equal(code, answer.Code);
        Assert.Equal(blame, answer.Blame.ToString());
        Assert.Equal(head.StatusCode, answer.Status);
        Assert.Equal(errorId, Encoding.ASCII.GetString(answer.ErrorId));
        Assert.Equal(source, Encoding.ASCII.GetString(answer.Source));
        Assert.Equal(blame == nameof(NodeAnswerBlame.Node) && code == ErrorCode.NodeUnavailable, answer.FailsOver);
    }

    // A chained engine answers with this very catalog: what its own writer produces is what we read.
    [Theory]
    [InlineData(ErrorCode.NameNotResolved, false, ErrorCode.NameNotResolved, nameof(NodeAnswerBlame.Target))]
    [InlineData(ErrorCode.TargetConnectFailed, true, ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target))]
    [InlineData(ErrorCode.TargetReset, false, ErrorCode.TargetReset, nameof(NodeAnswerBlame.Target))]
    [InlineData(ErrorCode.GatewayTimeout, false, ErrorCode.GatewayTimeout, nameof(NodeAnswerBlame.Target))]
    [InlineData(ErrorCode.Disallowed, true, ErrorCode.BuildConnect, nameof(NodeAnswerBlame.Node))]
    [InlineData(ErrorCode.Disallowed, false, ErrorCode.BuildRequest, nameof(NodeAnswerBlame.Node))]
    [InlineData(ErrorCode.RateLimitExceeded, false, ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node))]
    [InlineData(ErrorCode.NoProxy, false, ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node))]
    [InlineData(ErrorCode.NodeNotFound, true, ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node))]
    [InlineData(ErrorCode.InternalError, false, ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node))]
    public void Classify_ChainedEngineError_KeepsTargetCodesAndBlamesTheNodeForTheRest(ErrorCode chained, bool connect, ErrorCode code, string blame)
    {
        byte[] raw = ErrorExample.For(chained).Render(new ErrorWriter(new ErrorWriterOptions { EngineName = "eu-engine" }));
        ResponseHead head = Parse(raw, connect);

        NodeAnswer answer = NodeAnswerClassifier.Classify(head, connect);

        Assert.Equal(code, answer.Code);
        Assert.Equal(blame, answer.Blame.ToString());
        // X-Proxy-Error is trusted ahead of the chained engine's own Proxy-Status member.
        Assert.Equal(NodeSignal.EngineError, answer.Signal);
        Assert.Equal(ErrorCatalog.Get(chained).Name, Encoding.ASCII.GetString(answer.ErrorId));
    }

    // Written from the providers' documentation (URLs in NodeAnswerClassifier's remarks).
    [Theory]
    // RFC 9209: the last member is the node's; the one before it an earlier hop's.
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nProxy-Status: cdn; received-status=200, proxy.example; error=dns_error; rcode=\"NXDOMAIN\"\r\n\r\n",
        ErrorCode.NameNotResolved, nameof(NodeAnswerBlame.Target), "dns_error", "Proxy-Status")]
    [InlineData("HTTP/1.1 504 Gateway Timeout\r\nProxy-Status: gw\r\nProxy-Status: edge; error=connection_timeout\r\n\r\n",
        ErrorCode.GatewayTimeout, nameof(NodeAnswerBlame.Target), "connection_timeout", "Proxy-Status")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nProxy-Status: edge; error=connection_refused; details=\"a, b; error=dns_error\"\r\n\r\n",
        ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "connection_refused", "Proxy-Status")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nProxy-Status: edge; error=http_response_incomplete\r\n\r\n",
        ErrorCode.TargetReset, nameof(NodeAnswerBlame.Target), "http_response_incomplete", "Proxy-Status")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nProxy-Status: edge; error=http_response_header_size\r\n\r\n",
        ErrorCode.ResponseError, nameof(NodeAnswerBlame.Target), "http_response_header_size", "Proxy-Status")]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nProxy-Status: edge; error=connection_limit_reached\r\n\r\n",
        ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node), "connection_limit_reached", "Proxy-Status")]
    [InlineData("HTTP/1.1 403 Forbidden\r\nProxy-Status: edge; error=http_request_denied\r\n\r\n",
        ErrorCode.BuildRequest, nameof(NodeAnswerBlame.Node), "http_request_denied", "Proxy-Status")]
    [InlineData("HTTP/1.1 500 Internal Server Error\r\nProxy-Status: edge; error=some_future_type\r\n\r\n",
        ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node), "some_future_type", "Proxy-Status")]
    // Bright Data's documented example: Proxy-Status decides, ahead of its private x-brd-err-code.
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nx-brd-err-code: client_10060\r\nx-brd-err-msg: Requested IP is not allocated to this zone\r\n"
        + "Proxy-Status: brd.brighdata.io; received-status=400; error=destination_ip_unroutable; details=\"client-10060: Requested IP is not allocated\"\r\n\r\n",
        ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "destination_ip_unroutable", "Proxy-Status")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nx-brd-err-code: client_10010\r\nx-brd-err-msg: Bad auth\r\n\r\n",
        ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node), "client_10010", "x-brd-err-code")]
    // SOAX: X-SOAX-Error carries the catalog this one follows.
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nX-SOAX-Error: NAME_NOT_RESOLVED\r\nX-SOAX-Detail: The target host name does not resolve\r\n\r\n",
        ErrorCode.NameNotResolved, nameof(NodeAnswerBlame.Target), "NAME_NOT_RESOLVED", "X-SOAX-Error")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nX-SOAX-Error: NODE_UNAVAILABLE\r\nX-SOAX-Detail: The chosen node is unavailable\r\n\r\n",
        ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node), "NODE_UNAVAILABLE", "X-SOAX-Error")]
    [InlineData("HTTP/1.1 504 Gateway Timeout\r\nX-SOAX-Error: GATEWAY_TIMEOUT\r\n\r\n",
        ErrorCode.GatewayTimeout, nameof(NodeAnswerBlame.Target), "GATEWAY_TIMEOUT", "X-SOAX-Error")]
    // Zyte Smart Proxy Manager.
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nX-Crawlera-Error: banned\r\nRetry-After: 1\r\n\r\n",
        ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node), "banned", "X-Crawlera-Error")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nX-Crawlera-Error: nxdomain\r\n\r\n",
        ErrorCode.NameNotResolved, nameof(NodeAnswerBlame.Target), "nxdomain", "X-Crawlera-Error")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nX-Crawlera-Error: econnrefused\r\n\r\n",
        ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target), "econnrefused", "X-Crawlera-Error")]
    [InlineData("HTTP/1.1 504 Gateway Timeout\r\nX-Crawlera-Error: timeout\r\n\r\n",
        ErrorCode.GatewayTimeout, nameof(NodeAnswerBlame.Target), "timeout", "X-Crawlera-Error")]
    [InlineData("HTTP/1.1 403 Forbidden\r\nX-Crawlera-Error: domain_forbidden\r\n\r\n",
        ErrorCode.BuildRequest, nameof(NodeAnswerBlame.Node), "domain_forbidden", "X-Crawlera-Error")]
    // Oxylabs: X-Error-Description only on its own errors; the status says the side.
    [InlineData("HTTP/1.1 525 No Exit Found\r\nX-Error-Description: Bad gateway: exit node not found. Try different filters.\r\n\r\n",
        ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node), "Bad gateway: exit node not found. Try different ", "X-Error-Description")]
    [InlineData("HTTP/1.1 522 Timeout\r\nX-Error-Description: Timeout: the target did not answer in time\r\n\r\n",
        ErrorCode.GatewayTimeout, nameof(NodeAnswerBlame.Target), "Timeout: the target did not answer in time", "X-Error-Description")]
    // Scrapoxy answers its own failures with 557.
    [InlineData("HTTP/1.1 557 no_proxy\r\nContent-Length: 0\r\n\r\n",
        ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node), "no_proxy", "Scrapoxy")]
    // Squid's errno tells a connect timeout from a refusal.
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 110\r\n\r\n",
        ErrorCode.GatewayTimeout, nameof(NodeAnswerBlame.Target), "ERR_CONNECT_FAIL", "X-Squid-Error")]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_DNS_FAIL 0\r\n\r\n",
        ErrorCode.NameNotResolved, nameof(NodeAnswerBlame.Target), "ERR_DNS_FAIL", "X-Squid-Error")]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_SHUTTING_DOWN 0\r\n\r\n",
        ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node), "ERR_SHUTTING_DOWN", "X-Squid-Error")]
    public void Classify_DocumentedAnswer_TranslatesIt(string head, ErrorCode code, string blame, string errorId, string source)
    {
        NodeAnswer answer = Classify(head);

        Assert.Equal(code, answer.Code);
        Assert.Equal(blame, answer.Blame.ToString());
        Assert.Equal(errorId, Encoding.ASCII.GetString(answer.ErrorId));
        Assert.Equal(source, Encoding.ASCII.GetString(answer.Source));
    }

    // spec/errors.md: a node's response without any proxy error signal is the target's, relayed untouched.
    [Theory]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 522 Origin Connection Time-out\r\nServer: cloudflare\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 557 Custom\r\nX-Proxy-Error: \r\nContent-Length: 0\r\n\r\n", true)]
    [InlineData("HTTP/1.1 200 OK\r\nX-Squid-Error: ERR_DNS_FAIL 0\r\nX-Proxy-Error: NAME_NOT_RESOLVED\r\n\r\n")]
    [InlineData("HTTP/1.1 302 Found\r\nProxy-Status: edge; error=dns_error\r\n\r\n")]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nProxy-Status: origin-cdn; error=destination_unavailable, edge; received-status=503\r\n\r\n")]
    [InlineData("HTTP/1.1 404 Not Found\r\nServer: Apache\r\nProxy-Status: edge; received-status=404\r\n\r\n")]
    public void Classify_NoSignalOrBelow400_IsTheTargetsAnswer(string head, bool scrapoxyStatus = false)
    {
        NodeAnswer answer = Classify(head);

        // A 557 is Scrapoxy's status: without our X-Proxy-Error it still reads as a node failure.
        Assert.Equal(scrapoxyStatus, answer.IsError);
        Assert.Equal(scrapoxyStatus ? NodeSignal.Scrapoxy : NodeSignal.None, answer.Signal);
    }

    [Theory]
    [InlineData("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n\r\n", ErrorCode.BuildConnect, nameof(NodeAnswerBlame.Node))]
    [InlineData("HTTP/1.1 501 Not Implemented\r\n\r\n", ErrorCode.BuildConnect, nameof(NodeAnswerBlame.Node))]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\n\r\n", ErrorCode.TargetConnectFailed, nameof(NodeAnswerBlame.Target))]
    [InlineData("HTTP/1.1 504 Gateway Timeout\r\n\r\n", ErrorCode.GatewayTimeout, nameof(NodeAnswerBlame.Target))]
    [InlineData("HTTP/1.1 500 Internal Server Error\r\n\r\n", ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node))]
    [InlineData("HTTP/1.1 400 Bad Request\r\n\r\n", ErrorCode.NodeUnavailable, nameof(NodeAnswerBlame.Node))]
    public void Classify_ConnectAnswerWithoutSignal_TheStatusDecides(string head, ErrorCode code, string blame)
    {
        NodeAnswer answer = Classify(head, connect: true);

        Assert.Equal(code, answer.Code);
        Assert.Equal(blame, answer.Blame.ToString());
        Assert.Equal(NodeSignal.ConnectStatus, answer.Signal);
    }

    [Fact]
    public void Classify_LongErrorId_IsCutAndOutlivesTheHead()
    {
        ResponseHead head = Parse(Encoding.ASCII.GetBytes($"HTTP/1.1 502 Bad Gateway\r\nX-Squid-Error: ERR_{new string('X', 100)} 0\r\n\r\n"), connect: false);
        NodeAnswer answer = NodeAnswerClassifier.Classify(head, connect: false);
        head.Reset();
        Parse(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nX-Other: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n\r\n"), connect: false);

        Assert.Equal(NodeAnswer.MaxErrorIdBytes, answer.ErrorId.Length);
        Assert.Equal("ERR_" + new string('X', NodeAnswer.MaxErrorIdBytes - 4), Encoding.ASCII.GetString(answer.ErrorId));
    }

    [Fact]
    public void WriteDetail_NamesNodeStatusErrorAndSource()
    {
        NodeAnswer answer = NodeAnswerClassifier.Classify(Parse(Captured("squid-refused.http"), connect: false), connect: false);
        Span<byte> detail = stackalloc byte[160];

        int n = NodeAnswerClassifier.WriteDetail(detail, answer, "de-squid"u8);

        Assert.Equal("node de-squid answered 503 ERR_CONNECT_FAIL (X-Squid-Error)", Encoding.ASCII.GetString(detail[..n]));
    }

    /// <summary>One loop of classifications after warm-up (a node error, a target answer, a Proxy-Status list, and the detail line): the allocation-budget measurer.</summary>
    internal static Engine.Tests.Diagnostics.AllocationMeasurement MeasureClassifications()
    {
        ResponseHead squid = Parse(Captured("squid-dns-fail.http"), connect: false);
        ResponseHead target = Parse(Encoding.ASCII.GetBytes("HTTP/1.1 502 Bad Gateway\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n"), connect: false);
        ResponseHead proxyStatus = Parse(Encoding.ASCII.GetBytes("HTTP/1.1 502 Bad Gateway\r\nProxy-Status: a, b; error=dns_error\r\n\r\n"), connect: false);
        Span<byte> detail = stackalloc byte[160];
        const int Rounds = 1000;
        int sum = 0;
        for (int i = 0; i < 10; i++)
        {
            sum += (int)NodeAnswerClassifier.Classify(squid, false).Code;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Rounds; i++)
        {
            NodeAnswer a = NodeAnswerClassifier.Classify(squid, false);
            NodeAnswer b = NodeAnswerClassifier.Classify(target, false);
            NodeAnswer c = NodeAnswerClassifier.Classify(proxyStatus, true);
            sum += (int)a.Code + (int)b.Code + (int)c.Code + NodeAnswerClassifier.WriteDetail(detail, a, "n"u8);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        return new(allocated, sum > 0 ? 3 * Rounds : 0, 0, "classification");
    }
}
