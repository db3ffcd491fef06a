using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Engine.Errors;
using Engine.Http;
using Engine.Socks;

namespace Engine.Tests.Socks;

/// <summary>
/// <see cref="Socks5Handshake"/> over pipes, with a scripted authenticator: every RFC 1928/1929
/// step, the replies it sends itself, and the typed CONNECT it produces.
/// </summary>
public class Socks5HandshakeTests
{
    private readonly Pipe _fromClient = new();
    private readonly Pipe _toClient = new();
    private readonly RequestHead _head = new();
    private readonly ScriptedAuthenticator _auth = new();

    private Socks5Handshake Handshake => new(_fromClient.Reader, _toClient.Writer);

    private static byte[] Greeting(params byte[] methods) => [5, (byte)methods.Length, .. methods];

    private static byte[] UserPass(string user, string password) =>
        [1, (byte)user.Length, .. Encoding.ASCII.GetBytes(user), (byte)password.Length, .. Encoding.ASCII.GetBytes(password)];

    private static byte[] ConnectDomain(string host, int port, byte command = 1) =>
        [5, command, 0, 3, (byte)host.Length, .. Encoding.ASCII.GetBytes(host), (byte)(port >> 8), (byte)port];

    private async Task<Socks5HandshakeResult> RunAsync(params byte[][] messages)
    {
        foreach (byte[] message in messages)
        {
            await _fromClient.Writer.WriteAsync(message);
        }

        await _fromClient.Writer.CompleteAsync();
        return await Handshake.RunAsync(_auth, _head, CancellationToken.None);
    }

    private byte[] Replies()
    {
        _toClient.Writer.Complete();
        Assert.True(_toClient.Reader.TryRead(out ReadResult read));
        return read.Buffer.ToArray();
    }

    [Fact]
    public async Task UserPass_Accepted_ProducesTheSameConnectHeadAsHttp()
    {
        Socks5HandshakeResult result = await RunAsync(Greeting(0, 2), UserPass("country-us", "key"), ConnectDomain("example.com", 443));

        Assert.Equal(Socks5HandshakeStatus.Ready, result.Status);
        Assert.Equal(ErrorCode.None, result.Deferred);
        Assert.Equal(("country-us", "key", true), _auth.Seen);
        Assert.Equal([5, 2, 1, 0], Replies());
        Assert.Equal(4, result.BytesOut);
        Assert.Equal(TargetForm.Authority, _head.TargetForm);
        Assert.Equal(KnownMethod.Connect, _head.Method);
        Assert.Equal("example.com", Encoding.ASCII.GetString(_head.TargetHost));
        Assert.Equal(443, _head.TargetPort);
        Assert.Equal("CONNECT", Encoding.ASCII.GetString(_head.MethodBytes));
        Assert.Equal("example.com:443", Encoding.ASCII.GetString(_head.Target));
        Assert.False(_head.KeepAlive);
    }

    [Fact]
    public async Task UserPass_AuthFailure_IsAnRfc1929FailureStatus()
    {
        _auth.Answer = ErrorCode.AuthFailed;
        Socks5HandshakeResult result = await RunAsync(Greeting(2), UserPass("country-us", "wrong"), ConnectDomain("example.com", 443));

        Assert.Equal(Socks5HandshakeStatus.Refused, result.Status);
        Assert.Equal(ErrorCode.AuthFailed, result.Error);
        Assert.Equal([5, 2, 1, 1], Replies());
    }

    [Fact]
    public async Task UserPass_RuleError_IsAnAuthFailureToo()
    {
        _auth.Answer = ErrorCode.ErrUnknownParam;
        Socks5HandshakeResult result = await RunAsync(Greeting(2), UserPass("colour-blue", "key"), ConnectDomain("example.com", 443));

        Assert.Equal(Socks5HandshakeStatus.Refused, result.Status);
        Assert.Equal(ErrorCode.ErrUnknownParam, result.Error);
    }

    [Fact]
    public async Task UserPass_PolicyRefusal_PassesTheAuthStep_AndIsDeferredToTheRequest()
    {
        _auth.Answer = ErrorCode.Disallowed;
        Socks5HandshakeResult result = await RunAsync(Greeting(2), UserPass("country-us", "key"), ConnectDomain("example.com", 443));

        Assert.Equal(Socks5HandshakeStatus.Ready, result.Status);
        Assert.Equal(ErrorCode.Disallowed, result.Deferred);
        Assert.Equal([5, 2, 1, 0], Replies());
    }

    [Fact]
    public async Task NoAuth_WithIpAuthentication_IsAccepted()
    {
        Socks5HandshakeResult result = await RunAsync(Greeting(0), ConnectDomain("example.com", 80));

        Assert.Equal(Socks5HandshakeStatus.Ready, result.Status);
        Assert.False(_auth.Seen.Offered);
        Assert.Equal([5, 0], Replies());
    }

    [Theory]
    [InlineData(new byte[] { 0 }, ErrorCode.ErrAuthRequired)]
    [InlineData(new byte[] { 1 }, ErrorCode.BadRequest)]
    public async Task NoAcceptableMethod_AnswersFF(byte[] methods, ErrorCode expected)
    {
        _auth.Answer = ErrorCode.ErrAuthRequired;
        Socks5HandshakeResult result = await RunAsync(Greeting(methods));

        Assert.Equal(Socks5HandshakeStatus.Refused, result.Status);
        Assert.Equal(expected, result.Error);
        Assert.Equal([5, 0xFF], Replies());
    }

    [Fact]
    public async Task Bind_IsCommandNotSupported()
    {
        Socks5HandshakeResult result = await RunAsync(Greeting(0), ConnectDomain("example.com", 80, command: 2));

        Assert.Equal(ErrorCode.NotImplemented, result.Error);
        Assert.Equal([5, 0, 5, (byte)Socks5Reply.CommandNotSupported, 0, 1, 0, 0, 0, 0, 0, 0], Replies());
    }

    [Fact]
    public async Task UnknownAddressType_IsAddressTypeNotSupported()
    {
        Socks5HandshakeResult result = await RunAsync(Greeting(0), [5, 1, 0, 9, 1, 2, 3, 4, 0, 80]);

        Assert.Equal(Socks5HandshakeStatus.Refused, result.Status);
        Assert.Equal(ErrorCode.BadRequest, result.Error);
        Assert.Equal((byte)Socks5Reply.AddressTypeNotSupported, Replies()[3]);
    }

    [Fact]
    public async Task DomainThatCannotBeAnAuthority_IsAGeneralFailure()
    {
        Socks5HandshakeResult result = await RunAsync(Greeting(0), ConnectDomain("bad host", 80));

        Assert.Equal(ErrorCode.BadRequest, result.Error);
        Assert.Equal((byte)Socks5Reply.GeneralFailure, Replies()[3]);
    }

    [Fact]
    public async Task Ipv6Destination_BecomesABracketedAuthority()
    {
        byte[] request = [5, 1, 0, 4, .. new byte[15], 1, 0, 80];
        Socks5HandshakeResult result = await RunAsync(Greeting(0), request);

        Assert.Equal(Socks5HandshakeStatus.Ready, result.Status);
        Assert.Equal("::1", Encoding.ASCII.GetString(_head.TargetHost));
        Assert.Equal("[::1]:80", Encoding.ASCII.GetString(_head.Target));
    }

    [Fact]
    public async Task ClientLeavesMidHandshake_IsClientGone()
    {
        Socks5HandshakeResult result = await RunAsync(Greeting(2), [1, 10, (byte)'c']);

        Assert.Equal(Socks5HandshakeStatus.ClientGone, result.Status);
    }

    [Fact]
    public async Task EveryMessageSplitAtEveryByte_GivesTheSameHead()
    {
        byte[] all = [.. Greeting(0, 2), .. UserPass("country-de", "key"), .. ConnectDomain("example.org", 8443)];
        Task<Socks5HandshakeResult> run = Handshake.RunAsync(_auth, _head, CancellationToken.None).AsTask();
        foreach (byte b in all)
        {
            await _fromClient.Writer.WriteAsync(new[] { b });
        }

        Socks5HandshakeResult result = await run;
        Assert.Equal(Socks5HandshakeStatus.Ready, result.Status);
        Assert.Equal(("country-de", "key", true), _auth.Seen);
        Assert.Equal("example.org:8443", Encoding.ASCII.GetString(_head.Target));
    }

    private sealed class ScriptedAuthenticator : ISocks5Authenticator
    {
        public ErrorCode Answer { get; set; }

        public (string User, string Password, bool Offered) Seen { get; private set; }

        public ValueTask<ErrorCode> AuthenticateAsync(ReadOnlyMemory<byte> user, ReadOnlyMemory<byte> password, bool credentialsOffered)
        {
            Seen = (Encoding.ASCII.GetString(user.Span), Encoding.ASCII.GetString(password.Span), credentialsOffered);
            return ValueTask.FromResult(Answer);
        }
    }
}
