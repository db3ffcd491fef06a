using System.Buffers;
using System.IO.Pipelines;
using Engine.Errors;
using Engine.Http;
using Engine.Transport;

namespace Engine.Socks;

/// <summary>
/// The server side of a SOCKS5 handshake (RFC 1928, RFC 1929 credentials carrying the same rules
/// and key as HTTP, or IP authentication with method 0x00): greeting → method → credentials →
/// status → request. A CONNECT request becomes the same <see cref="RequestHead"/> an HTTP CONNECT
/// produces, so the rest of the path (admission, rules, routing, relay, access log) is shared.
/// Refusals are answered here with the RFC's own replies; the reply to the CONNECT itself (success
/// or a catalog error) is the caller's, written with <see cref="WriteReply"/>.
/// </summary>
/// <remarks>One instance per SOCKS5 connection: HTTP connections never carry its buffers.</remarks>
internal sealed class Socks5Handshake
{
    /// <summary>Bytes of every RFC 1928 reply the engine sends: BND.ADDR 0.0.0.0 and BND.PORT 0 (clients ignore them for CONNECT).</summary>
    public const int ReplyLength = 10;

    // RFC 1929 username and password (255 bytes each) and the request's host.
    private const int UserOffset = 0;
    private const int PasswordOffset = 255;
    private const int HostOffset = 510;

    private readonly byte[] _fields = new byte[HostOffset + Socks5Parser.MaxHostLength];
    private PipeReader _input;
    private PipeWriter _output;

    // What the last message parsed to.
    private bool _offersNoAuth;
    private bool _offersUserPass;
    private int _userLength;
    private int _passwordLength;
    private Socks5Request _request;
    private bool _unsupportedAddress;
    private long _bytesOut;

    public Socks5Handshake(PipeReader input, PipeWriter output)
    {
        _input = input;
        _output = output;
    }

    /// <summary>Serves another client from now on (a pooled connection's next one, after <see cref="Detach"/>).</summary>
    public void Attach(PipeReader input, PipeWriter output)
    {
        _input = input;
        _output = output;
    }

    /// <summary>Lets go of the client's reader and writer and forgets everything it sent: its credentials are wiped.</summary>
    public void Detach()
    {
        _input = null!;
        _output = null!;
        Array.Clear(_fields);
        _offersNoAuth = _offersUserPass = _unsupportedAddress = false;
        _userLength = _passwordLength = 0;
        _request = default;
        _bytesOut = 0;
    }

    private enum Message : byte
    {
        Greeting,
        Credentials,
        Request,
    }

    /// <summary>The RFC 1928 reply; bytes written.</summary>
    public static int WriteReply(PipeWriter output, Socks5Reply reply)
    {
        ReadOnlySpan<byte> message = [Socks5Parser.Version, (byte)reply, 0x00, Socks5Parser.AddressIPv4, 0, 0, 0, 0, 0, 0];
        output.Write(message);
        return message.Length;
    }

    /// <summary>
    /// Runs the handshake up to a CONNECT request, written into <paramref name="head"/>. Reads stop
    /// at <paramref name="deadline"/> (an <see cref="OperationCanceledException"/>); a client that
    /// breaks the connection surfaces as the pipe's exception.
    /// </summary>
    public async ValueTask<Socks5HandshakeResult> RunAsync(ISocks5Authenticator authenticator, RequestHead head, CancellationToken deadline)
    {
        _bytesOut = 0;
        Socks5ParseStatus status = await ReadAsync(Message.Greeting, deadline).ConfigureAwait(false);
        if (status != Socks5ParseStatus.Complete)
        {
            return Ended(status);
        }

        ErrorCode deferred = ErrorCode.None;
        if (_offersUserPass)
        {
            await SendAsync(Socks5Parser.Version, Socks5Parser.MethodUserPass).ConfigureAwait(false);
            status = await ReadAsync(Message.Credentials, deadline).ConfigureAwait(false);
            if (status != Socks5ParseStatus.Complete)
            {
                return Ended(status);
            }

            ErrorCode refusal = await authenticator.AuthenticateAsync(
                _fields.AsMemory(UserOffset, _userLength), _fields.AsMemory(PasswordOffset, _passwordLength), credentialsOffered: true).ConfigureAwait(false);

            // The catalog says which refusals are RFC 1929 auth failures (credentials, account,
            // rules); the others (DISALLOWED for a package without socks5) pass the auth step and
            // are answered at the request with their reply code.
            if (refusal != ErrorCode.None && ErrorCatalog.Get(refusal).Socks5AuthFailure)
            {
                // RFC 1929 §2: a non-zero status, then the server closes.
                await SendAsync(Socks5Parser.AuthVersion, 0x01).ConfigureAwait(false);
                return new Socks5HandshakeResult(Socks5HandshakeStatus.Refused, refusal, ErrorCode.None, _bytesOut);
            }

            deferred = refusal;
            await SendAsync(Socks5Parser.AuthVersion, 0x00).ConfigureAwait(false);
        }
        else if (_offersNoAuth)
        {
            // IP authentication: the same split as at the RFC 1929 step. Refusals of the auth step
            // (no IP-auth package: ERR_AUTH_REQUIRED; a paused, suspended … one: its own code) are
            // method 0xFF, logged with their code; the others (DISALLOWED) are answered at the request.
            ErrorCode refusal = await authenticator.AuthenticateAsync(default, default, credentialsOffered: false).ConfigureAwait(false);
            if (refusal != ErrorCode.None && ErrorCatalog.Get(refusal).Socks5AuthFailure)
            {
                await SendAsync(Socks5Parser.Version, Socks5Parser.MethodNoneAcceptable).ConfigureAwait(false);
                return new Socks5HandshakeResult(Socks5HandshakeStatus.Refused, refusal, ErrorCode.None, _bytesOut);
            }

            deferred = refusal;
            await SendAsync(Socks5Parser.Version, Socks5Parser.MethodNoAuth).ConfigureAwait(false);
        }
        else
        {
            await SendAsync(Socks5Parser.Version, Socks5Parser.MethodNoneAcceptable).ConfigureAwait(false);
            return new Socks5HandshakeResult(Socks5HandshakeStatus.Refused, ErrorCode.BadRequest, ErrorCode.None, _bytesOut);
        }

        status = await ReadAsync(Message.Request, deadline).ConfigureAwait(false);
        if (status != Socks5ParseStatus.Complete)
        {
            if (_unsupportedAddress)
            {
                await SendReplyAsync(Socks5Reply.AddressTypeNotSupported).ConfigureAwait(false);
            }
            else if (status == Socks5ParseStatus.Invalid)
            {
                // errors.md (SOCKS5): BAD_REQUEST at the request is REP 0x01 general failure, then close.
                await SendReplyAsync(Socks5Reply.GeneralFailure).ConfigureAwait(false);
            }

            return Ended(status);
        }

        if (_request.Command != Socks5Command.Connect)
        {
            // BIND and UDP ASSOCIATE are not served (docs/configuration.md says why).
            await SendReplyAsync(Socks5Reply.CommandNotSupported).ConfigureAwait(false);
            return new Socks5HandshakeResult(Socks5HandshakeStatus.Refused, ErrorCode.NotImplemented, ErrorCode.None, _bytesOut);
        }

        if (!head.SetConnect(_fields.AsSpan(HostOffset, _request.HostLength), _request.Port, _request.AddressType == Socks5Parser.AddressIPv6))
        {
            await SendReplyAsync(Socks5Reply.GeneralFailure).ConfigureAwait(false);
            return new Socks5HandshakeResult(Socks5HandshakeStatus.Refused, ErrorCode.BadRequest, ErrorCode.None, _bytesOut);
        }

        return new Socks5HandshakeResult(Socks5HandshakeStatus.Ready, ErrorCode.None, deferred, _bytesOut);
    }

    private Socks5HandshakeResult Ended(Socks5ParseStatus status) => status == Socks5ParseStatus.Invalid
        ? new Socks5HandshakeResult(Socks5HandshakeStatus.Refused, ErrorCode.BadRequest, ErrorCode.None, _bytesOut)
        : new Socks5HandshakeResult(Socks5HandshakeStatus.ClientGone, ErrorCode.None, ErrorCode.None, _bytesOut);

    /// <summary>Reads until one whole message parsed (Complete), it is not RFC 1928/1929 (Invalid), or the client left (Incomplete).</summary>
    private async ValueTask<Socks5ParseStatus> ReadAsync(Message message, CancellationToken deadline)
    {
        while (true)
        {
            ReadResult read = await _input.ReadAsync(deadline).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            Socks5ParseStatus status = Parse(message, ref reader);
            if (status == Socks5ParseStatus.Complete)
            {
                _input.AdvanceTo(reader.Position);
                return status;
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (status == Socks5ParseStatus.Invalid || read.IsCompleted)
            {
                return status;
            }
        }
    }

    private Socks5ParseStatus Parse(Message message, ref SequenceReader<byte> reader) => message switch
    {
        Message.Greeting => Socks5Parser.ReadGreeting(ref reader, out _offersNoAuth, out _offersUserPass),
        Message.Credentials => Socks5Parser.ReadUserPass(ref reader, _fields.AsSpan(UserOffset, 255), _fields.AsSpan(PasswordOffset, 255),
            out _userLength, out _passwordLength),
        _ => Socks5Parser.ReadRequest(ref reader, _fields.AsSpan(HostOffset, Socks5Parser.MaxHostLength), out _request, out _unsupportedAddress),
    };

    private ValueTask SendAsync(byte first, byte second)
    {
        Span<byte> message = _output.GetSpan(2);
        message[0] = first;
        message[1] = second;
        _output.Advance(2);
        _bytesOut += 2;
        return FlushAsync();
    }

    private ValueTask SendReplyAsync(Socks5Reply reply)
    {
        _bytesOut += WriteReply(_output, reply);
        return FlushAsync();
    }

    // A client gone mid-handshake shows at the next read.
    private async ValueTask FlushAsync() => await ClientFlush.FlushAsync(_output, CancellationToken.None).ConfigureAwait(false);
}
