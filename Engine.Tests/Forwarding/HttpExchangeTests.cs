using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Engine.Diagnostics;
using Engine.Forwarding;
using Engine.Http;
using Engine.Upstream;
using Engine.Transport;

namespace Engine.Tests.Forwarding;

/// <summary>
/// <see cref="HttpExchange"/> on its own: the client is a pair of pipes, the upstream a loopback
/// socket pair whose far end the test scripts as a target or an http node. Each test checks the
/// result value (outcome × failure × termination × bytes), not a connection's fields.
/// </summary>
public sealed class HttpExchangeTests : IAsyncLifetime
{
    private readonly Pipe _clientIn = new();
    private readonly Pipe _clientOut = new();
    private readonly ManualTimeProvider _time = new();
    private readonly CancellationTokenSource _aborted = new();
    private SocketPair _upstream = null!;
    private HttpExchange _exchange = null!;

    public async Task InitializeAsync()
    {
        _upstream = await SocketPair.CreateAsync();
        _exchange = new HttpExchange(_clientIn.Reader, _clientOut.Writer, _aborted.Token, CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        _exchange.Dispose();
        _upstream.Dispose();
        _aborted.Dispose();
        return Task.CompletedTask;
    }

    private ExchangeSettings Settings => new()
    {
        ResponseHeadTimeout = TimeSpan.FromSeconds(30),
        IdleTimeout = TimeSpan.FromSeconds(60),
        EngineName = "engine"u8.ToArray(),
        ExposeNode = true,
        Time = _time,
    };

    private static Node Direct => new(0, new NodeOptions { Id = "d1", Type = NodeType.Direct }, default);

    private static Node HttpNode => new(1, new NodeOptions { Id = "h1", Type = NodeType.Http, Address = "127.0.0.1:3128", Username = "u", Password = "p" }, default);

    private static RequestHead Parse(string text)
    {
        var head = new RequestHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)));
        Assert.Equal(ParseStatus.Complete, new HttpRequestParser().ParseHead(ref reader, head));
        return head;
    }

    private static RequestHead Get => Parse("GET http://example.com/a#frag HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");

    private Task<ExchangeResult> Run(RequestHead head, Node node, bool pooled = true, bool canRetry = false) =>
        _exchange.RunAsync(new ExchangeRequest(head, node, TcpSocket.Adopt(_upstream.A), pooled, canRetry, Settings)).AsTask();

    /// <summary>What the far end received up to the end of the request head.</summary>
    private async Task<string> ReceiveHeadAsync()
    {
        var received = new StringBuilder();
        byte[] buffer = new byte[4096];
        while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await _upstream.B.ReceiveAsync(buffer, SocketFlags.None);
            Assert.True(n > 0, "the exchange closed before sending a whole head");
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return received.ToString();
    }

    private Task<int> AnswerAsync(string response) => _upstream.B.SendAsync(Encoding.ASCII.GetBytes(response), SocketFlags.None);

    private async Task<string> ClientSawAsync()
    {
        await _clientOut.Writer.FlushAsync();
        Assert.True(_clientOut.Reader.TryRead(out ReadResult read));
        string text = Encoding.ASCII.GetString(read.Buffer.ToArray());
        _clientOut.Reader.AdvanceTo(read.Buffer.End);
        return text;
    }

    [Fact]
    public async Task Get_ThroughDirectNode_SendsOriginForm_RelaysResponse_Reusable()
    {
        Task<ExchangeResult> run = Run(Get, Direct);
        string sent = await ReceiveHeadAsync();
        await AnswerAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        ExchangeResult result = await run;

        Assert.StartsWith("GET /a HTTP/1.1\r\nHost: example.com\r\n", sent, StringComparison.Ordinal);
        Assert.Equal(ExchangeOutcome.Reusable, result.Outcome);
        Assert.Equal(200, result.Status);
        Assert.True(result.ClientContinues);
        Assert.Equal(TerminationState.Normal, result.Termination);
        Assert.Equal(sent.Length, result.BytesIn);
        string client = await ClientSawAsync();
        Assert.EndsWith("\r\n\r\nhello", client, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Node: d1\r\n", client, StringComparison.Ordinal);
        Assert.Equal(client.Length, result.BytesOut);
    }

    [Fact]
    public async Task Get_ThroughHttpNode_SendsAbsoluteFormWithCredentials()
    {
        Task<ExchangeResult> run = Run(Get, HttpNode);
        string sent = await ReceiveHeadAsync();
        await AnswerAsync("HTTP/1.1 204 No Content\r\n\r\n");
        ExchangeResult result = await run;

        Assert.StartsWith("GET http://example.com/a HTTP/1.1\r\n", sent, StringComparison.Ordinal);
        Assert.Contains("Proxy-Authorization: Basic dTpw\r\n", sent, StringComparison.Ordinal);
        Assert.Equal(204, result.Status);
    }

    [Fact]
    public async Task TargetClosesBeforeAnswering_DirectNode_FailedWithTargetReset()
    {
        Task<ExchangeResult> run = Run(Get, Direct);
        await ReceiveHeadAsync();
        _upstream.B.Shutdown(SocketShutdown.Both);
        ExchangeResult result = await run;

        Assert.Equal(ExchangeOutcome.Failed, result.Outcome);
        Assert.Equal(ExchangeFailure.TargetClosedBeforeHead, result.Failure);
        Assert.Equal(new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers), result.Termination);
        Assert.Equal(0, result.BytesOut);
    }

    [Fact]
    public async Task NodeClosesBeforeAnswering_HttpNode_IsTheNodesFailure()
    {
        Task<ExchangeResult> run = Run(Get, HttpNode);
        await ReceiveHeadAsync();
        _upstream.B.Shutdown(SocketShutdown.Both);
        ExchangeResult result = await run;

        Assert.Equal(ExchangeOutcome.NodeFailed, result.Outcome);
        Assert.Equal(ConnectStatus.NodeUnavailable, result.NodeFailure);
    }

    [Fact]
    public async Task HttpNodeAnswers407_IsTheNodesAuthFailure_NeverRelayed()
    {
        Task<ExchangeResult> run = Run(Get, HttpNode);
        await ReceiveHeadAsync();
        await AnswerAsync("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
        ExchangeResult result = await run;

        Assert.Equal(ExchangeOutcome.NodeFailed, result.Outcome);
        Assert.Equal(ConnectStatus.NodeAuthFailed, result.NodeFailure);
        Assert.False(_clientOut.Reader.TryRead(out _));
    }

    [Fact]
    public async Task HttpNodesOwnTargetFailure_IsFailedWithTheNodeAnswer_NeverRelayedNorReusable()
    {
        Task<ExchangeResult> run = Run(Get, HttpNode);
        await ReceiveHeadAsync();
        // A keep-alive error page: the exchange must still not hand the connection back.
        await AnswerAsync("HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\nContent-Length: 4\r\n\r\npage");
        ExchangeResult result = await run;

        Assert.Equal(ExchangeOutcome.Failed, result.Outcome);
        Assert.Equal(ExchangeFailure.NodeAnswered, result.Failure);
        Assert.Equal(Engine.Errors.ErrorCode.TargetConnectFailed, result.NodeAnswer.Code);
        Assert.Equal(NodeAnswerBlame.Target, result.NodeAnswer.Blame);
        Assert.Equal(503, result.NodeAnswer.Status);
        Assert.Equal("ERR_CONNECT_FAIL", Encoding.ASCII.GetString(result.NodeAnswer.ErrorId));
        Assert.Equal(0, result.BytesOut);
        Assert.False(_clientOut.Reader.TryRead(out _));
    }

    [Fact]
    public async Task HttpNodesOwnFailure_IsNodeFailedWithTheNodeAnswer()
    {
        Task<ExchangeResult> run = Run(Get, HttpNode);
        await ReceiveHeadAsync();
        await AnswerAsync("HTTP/1.1 502 Bad Gateway\r\nProxy-Status: squid; error=proxy_internal_error\r\nContent-Length: 0\r\n\r\n");
        ExchangeResult result = await run;

        Assert.Equal(ExchangeOutcome.NodeFailed, result.Outcome);
        Assert.Equal(ConnectStatus.NodeUnavailable, result.NodeFailure);
        Assert.Equal(NodeSignal.ProxyStatus, result.NodeAnswer.Signal);
        Assert.Equal("proxy_internal_error", Encoding.ASCII.GetString(result.NodeAnswer.ErrorId));
    }

    [Theory]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nServer: nginx\r\n\r\nbusy!")]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\nProxy-Status: cdn; received-status=503\r\nContent-Length: 5\r\n\r\nbusy!")]
    public async Task TargetsOwnErrorThroughAnHttpNode_WithoutAProxySignal_IsRelayedUntouched(string response)
    {
        Task<ExchangeResult> run = Run(Get, HttpNode);
        await ReceiveHeadAsync();
        await AnswerAsync(response);
        ExchangeResult result = await run;

        Assert.Equal(ExchangeOutcome.Reusable, result.Outcome);
        Assert.False(result.NodeAnswer.IsError);
        Assert.Equal(int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), result.Status);
        string client = await ClientSawAsync();
        Assert.StartsWith(response[..response.IndexOf("\r\n", StringComparison.Ordinal)], client, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nbusy!", client, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Proxy-Error", client, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GarbageResponse_IsResponseErrorOrTheNodesProtocolError(bool throughHttpNode)
    {
        ExchangeOutcome expected = throughHttpNode ? ExchangeOutcome.NodeFailed : ExchangeOutcome.Failed;
        Task<ExchangeResult> run = Run(Get, throughHttpNode ? HttpNode : Direct);
        await ReceiveHeadAsync();
        await AnswerAsync("SSH-2.0-OpenSSH\r\n\r\n");
        ExchangeResult result = await run;

        Assert.Equal(expected, result.Outcome);
        if (expected == ExchangeOutcome.Failed)
        {
            Assert.Equal(ExchangeFailure.ResponseMalformed, result.Failure);
        }
        else
        {
            Assert.Equal(ConnectStatus.NodeProtocolError, result.NodeFailure);
        }
    }

    [Fact]
    public async Task ReusedConnectionDeadBeforeAnyByte_AsksForAFreshConnection()
    {
        Task<ExchangeResult> run = Run(Get, Direct, canRetry: true);
        await ReceiveHeadAsync();
        _upstream.B.Shutdown(SocketShutdown.Both);
        ExchangeResult result = await run;

        Assert.Equal(ExchangeOutcome.RetryOnFreshConnection, result.Outcome);
        Assert.Equal(TerminationState.Normal, result.Termination);
    }

    [Fact]
    public async Task BodyCutShort_IsBrokenAfterTheHead_WithTheTargetsStatus()
    {
        Task<ExchangeResult> run = Run(Get, Direct);
        await ReceiveHeadAsync();
        await AnswerAsync("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
        _upstream.B.Shutdown(SocketShutdown.Both);
        ExchangeResult result = await run;

        Assert.Equal(ExchangeOutcome.Broken, result.Outcome);
        Assert.Equal(200, result.Status);
        Assert.False(result.ClientContinues);
        Assert.Equal(new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Data), result.Termination);
    }

    [Fact]
    public async Task NoResponseHeadInTime_FailedWithResponseHeadTimeout()
    {
        Task<ExchangeResult> run = Run(Get, Direct);
        await ReceiveHeadAsync();

        // The deadline is armed once the head is sent; advance the clock until it fires (bounded).
        for (int i = 0; i < 200 && !run.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(31));
            await Task.WhenAny(run, Task.Delay(10));
        }

        ExchangeResult result = await run;
        Assert.Equal(ExchangeOutcome.Failed, result.Outcome);
        Assert.Equal(ExchangeFailure.ResponseHeadTimeout, result.Failure);
        Assert.Equal(new TerminationState(TerminationCause.TargetTimeout, TerminationPhase.Headers), result.Termination);
    }

    // The exchange waits for the first answer byte in its own frame and then reads the head: the
    // deadline armed when the request went out covers both, so a target that sends part of a head
    // late and stalls is cut off 30 s after the request, not 30 s after its first byte.
    [Fact]
    public async Task PartOfTheHeadLate_ThenStalling_TimesOutOnTheDeadlineArmedAtTheRequest()
    {
        Task<ExchangeResult> run = Run(Get, Direct);
        await ReceiveHeadAsync();
        _time.Advance(TimeSpan.FromSeconds(20));
        await _upstream.B.SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray(), SocketFlags.None);

        TimeSpan elapsed = TimeSpan.FromSeconds(20);
        while (!run.IsCompleted && elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.WhenAny(run, Task.Delay(20));   // lets the exchange take the bytes in before the clock moves on
            _time.Advance(TimeSpan.FromSeconds(1));
            elapsed += TimeSpan.FromSeconds(1);
        }

        ExchangeResult result = await run;
        Assert.Equal(ExchangeFailure.ResponseHeadTimeout, result.Failure);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(32));
    }

    [Fact]
    public async Task PostBody_IsStreamed_AndCountedAsBytesIn()
    {
        RequestHead post = Parse("POST http://example.com/u HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\n\r\n");
        await _clientIn.Writer.WriteAsync("ping"u8.ToArray());
        Task<ExchangeResult> run = Run(post, Direct);
        string head = await ReceiveHeadAsync();
        byte[] body = new byte[16];
        int received = head.EndsWith("ping", StringComparison.Ordinal) ? 4 : await _upstream.B.ReceiveAsync(body, SocketFlags.None);
        await AnswerAsync("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        ExchangeResult result = await run;

        Assert.Equal(4, received);
        Assert.Equal(201, result.Status);
        Assert.True(result.ClientContinues);
        Assert.Equal(head.Length + (head.EndsWith("ping", StringComparison.Ordinal) ? 0 : 4), result.BytesIn);
    }

    [Fact]
    public async Task InvalidChunkedBodyFromTheClient_FailedWithClientFraming()
    {
        RequestHead post = Parse("POST http://example.com/u HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n");
        await _clientIn.Writer.WriteAsync("zz\r\n"u8.ToArray());
        ExchangeResult result = await Run(post, Direct);

        Assert.Equal(ExchangeOutcome.Failed, result.Outcome);
        Assert.Equal(ExchangeFailure.ClientFraming, result.Failure);
        Assert.Equal(ChunkedFramingError.InvalidChunkSize, result.ClientFramingError);
        Assert.Equal(new TerminationState(TerminationCause.Proxy, TerminationPhase.Request), result.Termination);
    }
}
