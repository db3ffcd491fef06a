using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Engine.Auth;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Http;
using Engine.Rules;
using Engine.Socks;

namespace Engine.Connection;

/// <summary>
/// SOCKS5 listeners (RFC 1928, RFC 1929 credentials carrying the same rules and key as HTTP, or
/// IP auth with method 0x00). The handshake is read under the request-head deadline; a CONNECT
/// request then becomes the same CONNECT the HTTP path serves (admission, rules, sessions, node
/// selection, failover, relay, access log), with catalog errors mapped to the nearest reply code.
/// </summary>
internal sealed partial class ProxyConnection
{
    // RFC 1929 username and password (255 bytes each) and the request's host, in one array made
    // when a SOCKS5 handshake starts: HTTP connections never pay for it.
    private byte[]? _socksFields;

    private Span<byte> SocksUser => _socksFields.AsSpan(0, 255);

    private Span<byte> SocksPassword => _socksFields.AsSpan(255, 255);

    private Span<byte> SocksHost => _socksFields.AsSpan(510, Socks5Parser.MaxHostLength);

    private async Task RunSocksAsync()
    {
        BeginRequest();
        _deadline.CancelAfter(_services.Limits.RequestHeadTimeout);
        try
        {
            await ServeSocksAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _termination = new TerminationState(_aborted.IsCancellationRequested ? TerminationCause.Killed : TerminationCause.ClientTimeout, TerminationPhase.Request);
            _error = ErrorCode.RequestTimeout;
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidOperationException)
        {
            _termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Request);
        }

        WriteAccessLog();
    }

    private async Task ServeSocksAsync()
    {
        _socksFields ??= new byte[510 + Socks5Parser.MaxHostLength];
        // Greeting → method.
        bool offersNoAuth = false;
        bool offersUserPass = false;
        if (!await ReadSocksAsync((ref SequenceReader<byte> r) => Socks5Parser.ReadGreeting(ref r, out offersNoAuth, out offersUserPass)).ConfigureAwait(false))
        {
            return;
        }

        string? header = null;
        if (offersUserPass)
        {
            await SendSocksAsync([Socks5Parser.Version, Socks5Parser.MethodUserPass]).ConfigureAwait(false);
            int userLength = 0;
            int passwordLength = 0;
            if (!await ReadSocksAsync((ref SequenceReader<byte> r) => Socks5Parser.ReadUserPass(ref r, SocksUser, SocksPassword, out userLength, out passwordLength)).ConfigureAwait(false))
            {
                return;
            }

            header = BasicHeader(SocksUser.Slice(0, userLength), SocksPassword.Slice(0, passwordLength));
            ErrorCode refusal = CheckSocksCredentials(header);

            // The catalog says which refusals are RFC 1929 auth failures (credentials, account,
            // rules); the others (DISALLOWED for a package without socks5) pass the auth step and
            // are answered at the request with their reply code.
            if (refusal != ErrorCode.None && ErrorCatalog.Get(refusal).Socks5AuthFailure)
            {
                // RFC 1929: a non-zero status, then the server closes.
                if (refusal == ErrorCode.AuthFailed && _services.AuthThrottle.RecordFailure(_client.Address))
                {
                    await Task.Delay(AuthFailureThrottle.Delay, _services.Time, _aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                _error = refusal;
                _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
                await SendSocksAsync([Socks5Parser.AuthVersion, 0x01]).ConfigureAwait(false);
                return;
            }

            await SendSocksAsync([Socks5Parser.AuthVersion, 0x00]).ConfigureAwait(false);
        }
        else if (offersNoAuth && CheckSocksCredentials(null) == ErrorCode.None)
        {
            await SendSocksAsync([Socks5Parser.Version, Socks5Parser.MethodNoAuth]).ConfigureAwait(false);
        }
        else
        {
            _error = offersNoAuth ? ErrorCode.ErrAuthRequired : ErrorCode.BadRequest;
            _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
            await SendSocksAsync([Socks5Parser.Version, Socks5Parser.MethodNoneAcceptable]).ConfigureAwait(false);
            return;
        }

        // Request.
        Socks5Request request = default;
        bool unsupportedAddress = false;
        if (!await ReadSocksAsync((ref SequenceReader<byte> r) => Socks5Parser.ReadRequest(ref r, SocksHost, out request, out unsupportedAddress)).ConfigureAwait(false))
        {
            if (unsupportedAddress)
            {
                await SendSocksAsync(SocksReply(Socks5Reply.AddressTypeNotSupported)).ConfigureAwait(false);
            }

            return;
        }

        if (request.Command != Socks5Command.Connect)
        {
            // BIND and UDP ASSOCIATE are not served (docs/configuration.md says why).
            _error = ErrorCode.NotImplemented;
            _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
            await SendSocksAsync(SocksReply(Socks5Reply.CommandNotSupported)).ConfigureAwait(false);
            return;
        }

        _deadline.TryReset();
        if (!ParseSyntheticConnect(SocksHost.Slice(0, request.HostLength), request.Port, request.AddressType == Socks5Parser.AddressIPv6, header))
        {
            _error = ErrorCode.BadRequest;
            _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
            await SendSocksAsync(SocksReply(Socks5Reply.GeneralFailure)).ConfigureAwait(false);
            return;
        }

        try
        {
            await HandleRequestAsync().ConfigureAwait(false);
        }
        finally
        {
            ReleaseNode();
        }
    }

    private delegate Socks5ParseStatus SocksParse(ref SequenceReader<byte> reader);

    /// <summary>Reads until <paramref name="parse"/> has a whole message; false (connection to close) when invalid or the client left.</summary>
    private async ValueTask<bool> ReadSocksAsync(SocksParse parse)
    {
        while (true)
        {
            ReadResult read = await _input.ReadAsync(_deadline.Token).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            Socks5ParseStatus status = parse(ref reader);
            if (status == Socks5ParseStatus.Complete)
            {
                _input.AdvanceTo(reader.Position);
                return true;
            }

            if (status == Socks5ParseStatus.Invalid)
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
                _error = ErrorCode.BadRequest;
                _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
                return false;
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
            {
                _termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Request);
                return false;
            }
        }
    }

    private async ValueTask SendSocksAsync(byte[] message)
    {
        _output.Write(message);
        _bytesOut += message.Length;
        await FlushAsync().ConfigureAwait(false);
    }

    private static byte[] SocksReply(Socks5Reply reply) => [Socks5Parser.Version, (byte)reply, 0x00, Socks5Parser.AddressIPv4, 0, 0, 0, 0, 0, 0];

    /// <summary>The RFC 1928 reply with BND.ADDR/PORT zero (clients ignore them for CONNECT); bytes written.</summary>
    private int WriteSocksReply(Socks5Reply reply)
    {
        ReadOnlySpan<byte> message = [Socks5Parser.Version, (byte)reply, 0x00, Socks5Parser.AddressIPv4, 0, 0, 0, 0, 0, 0];
        _output.Write(message);
        return message.Length;
    }

    /// <summary>
    /// Credentials and the rules in the username, checked at the RFC 1929 step so every refusal
    /// there is an auth failure (errors.md: the rule errors map to it too). IP auth: null header.
    /// </summary>
    private ErrorCode CheckSocksCredentials(string? header)
    {
        ReadOnlySpan<byte> value = header is null ? default : System.Text.Encoding.ASCII.GetBytes(header);
        if (!Authenticate(value, ProxyProtocols.Socks5, out ErrorCode error))
        {
            return error;
        }

        ReadOnlySpan<byte> rules = _rulesLength > 0 ? _credentials.AsSpan(0, _rulesLength) : _package!.DefaultRulesBytes;
        return RuleParser.TryParse(rules, _package!.Rules, out _, out RuleError ruleError) ? ErrorCode.None : ruleError.Code;
    }

    private static string BasicHeader(ReadOnlySpan<byte> user, ReadOnlySpan<byte> password)
    {
        byte[] plain = new byte[user.Length + 1 + password.Length];
        user.CopyTo(plain);
        plain[user.Length] = (byte)':';
        password.CopyTo(plain.AsSpan(user.Length + 1));
        return "Basic " + Convert.ToBase64String(plain);
    }

    /// <summary>Feeds "CONNECT host:port" (with the credentials) through the HTTP parser, so the rest of the path is shared.</summary>
    private bool ParseSyntheticConnect(ReadOnlySpan<byte> host, int port, bool ipv6, string? header)
    {
        var head = new ArrayBufferWriter<byte>(512);
        Span<byte> portText = stackalloc byte[8];
        Utf8Formatter.TryFormat(port, portText, out int portLength);
        head.Write("CONNECT "u8);
        WriteAuthority(head, host, portText[..portLength], ipv6);
        head.Write(" HTTP/1.1\r\nHost: "u8);
        WriteAuthority(head, host, portText[..portLength], ipv6);
        head.Write("\r\n"u8);
        if (header is not null)
        {
            head.Write("Proxy-Authorization: "u8);
            head.Write(System.Text.Encoding.ASCII.GetBytes(header));
            head.Write("\r\n"u8);
        }

        head.Write("\r\n"u8);
        _head.Reset();
        return Parse(new ReadOnlySequence<byte>(head.WrittenMemory), out _) == ParseStatus.Complete && _head.TargetForm == TargetForm.Authority;
    }

    private static void WriteAuthority(ArrayBufferWriter<byte> head, ReadOnlySpan<byte> host, ReadOnlySpan<byte> port, bool ipv6)
    {
        if (ipv6)
        {
            head.Write("["u8);
        }

        head.Write(host);
        if (ipv6)
        {
            head.Write("]"u8);
        }

        head.Write(":"u8);
        head.Write(port);
    }
}
