using System.Net.Sockets;
using Engine.Auth;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Socks;

namespace Engine.Connection;

/// <summary>
/// SOCKS5 listeners: the <see cref="Socks5Handshake"/> under the request-head deadline, with this
/// connection as its authenticator (credentials and rules checked once, at the RFC 1929 step),
/// then the same CONNECT the HTTP path serves, with catalog errors mapped to the nearest reply code.
/// </summary>
internal sealed partial class ProxyConnection : ISocks5Authenticator
{
    private async Task RunSocksAsync()
    {
        BeginRequest();
        CancellationToken deadline = _reader.StartDeadline(_services.Limits.RequestHeadTimeout);
        try
        {
            _handshake ??= new Socks5Handshake(_input, _output);
            Socks5HandshakeResult handshake = await _handshake.RunAsync(this, _head, deadline).ConfigureAwait(false);
            _reader.ClearDeadline();
            _request.BytesOut += handshake.BytesOut;
            switch (handshake.Status)
            {
                case Socks5HandshakeStatus.Ready:
                    _request.DeferredRefusal = handshake.Deferred;
                    try
                    {
                        await HandleRequestAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        _router.Release();
                    }

                    break;
                case Socks5HandshakeStatus.Refused:
                    _request.Error = handshake.Error;
                    _request.Termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
                    break;
                default:
                    _request.Termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Request);
                    break;
            }
        }
        catch (OperationCanceledException)
        {
            _request.Termination = new TerminationState(_aborted.IsCancellationRequested ? TerminationCause.Killed : TerminationCause.ClientTimeout, TerminationPhase.Request);
            _request.Error = ProxyFailures.HandshakeTimeout;
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidOperationException)
        {
            _request.Termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Request);
        }

        if (_handoff is null)
        {
            WriteAccessLog();   // a tunnel writes its line when it ends
        }
    }

    /// <summary>
    /// Credentials and the rules in the username, checked at the RFC 1929 step so every refusal
    /// there is an auth failure (errors.md: the rule errors map to it too). IP auth: no credentials.
    /// </summary>
    async ValueTask<ErrorCode> ISocks5Authenticator.AuthenticateAsync(ReadOnlyMemory<byte> user, ReadOnlyMemory<byte> password, bool credentialsOffered)
    {
        ErrorCode error = credentialsOffered ? AuthenticateUserPass(user.Span, password.Span) : Authenticate(default, ProxyProtocols.Socks5);
        if (error == ErrorCode.None && !ParseRules())
        {
            error = _request.RuleError.Code;
        }

        if (error == ErrorCode.AuthFailed && credentialsOffered && ErrorCatalog.Get(error).Socks5AuthFailure)
        {
            await ThrottleAuthFailureAsync().ConfigureAwait(false);
        }

        return error;
    }

    /// <summary>RFC 1929 username (the rules) and password (the key), checked as the HTTP path checks <c>Basic base64(user:key)</c>.</summary>
    private ErrorCode AuthenticateUserPass(ReadOnlySpan<byte> user, ReadOnlySpan<byte> password)
    {
        int length = user.Length + 1 + password.Length;
        if (_credentials.Length < length)
        {
            _credentials = new byte[Math.Max(length, 128)];
        }

        user.CopyTo(_credentials);
        _credentials[user.Length] = (byte)':';
        password.CopyTo(_credentials.AsSpan(user.Length + 1));
        AuthOutcome outcome = _services.Packages.AuthenticateDecoded(
            _credentials.AsSpan(0, length), _client.Address, ProxyProtocols.Socks5, out _request.Package, out _request.RulesLength);
        return ProxyFailures.Of(outcome);
    }
}
