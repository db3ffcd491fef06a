using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using Engine.Auth;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Http;
using Engine.Socks;
using Engine.Transport;
using Engine.Upstream;
using Engine.Limits;

namespace Engine.Connection;

/// <summary>
/// One client connection, as a loop over components: read a head (<see cref="HttpRequestParser"/>,
/// or <see cref="Socks5Handshake"/>) → authenticate (<see cref="PackageDirectory"/>) → admit
/// (<c>Limits</c>) → route (<see cref="Router"/>) → tunnel (<c>Tunnel/TunnelRelay</c>, run by the
/// <see cref="TunnelHandoff"/> after this object is gone) or exchange (<see cref="HttpExchange"/>) →
/// log. Components return result values; every refusal goes out through
/// <see cref="RejectAsync(in ProxyFailure)"/> with the code <see cref="ProxyFailures"/> picks, and
/// every request ends in one access-log line.
/// </summary>
internal sealed partial class ProxyConnection : IDisposable
{
    private readonly ConnectionPool _home;
    private readonly ServicesHandle _handle;
    private readonly CancellationToken _draining;
    private readonly CancellationToken _aborted;
    private readonly RequestHeadReader _reader = new();
    private readonly RequestHead _head = new();
    private readonly Router _router = new();
    private ProxyServices _services;

    // The client's; set by Attach, dropped when the loop ends (a pooled object pins nothing of it).
    private PipeReader _input = null!;
    private PipeWriter _output = null!;
    private IPEndPoint _client = null!;
    private ClientProtocol _protocol;
    private bool _socks;

    // A tunnel takes this over at its handoff and gives back an ended one (TunnelHandoff.Attach).
    private RequestAdmission _admission = new();

    // Decoded Basic credentials (rules:key); sized to the longest header a client of this object
    // sent, not to the 1 KiB limit. Wiped when the loop ends.
    private byte[] _credentials = [];

    // Made on first use: a tunnel never needs an exchange, an HTTP client never a handshake.
    private HttpExchange? _exchange;
    private Socks5Handshake? _handshake;

    private RequestState _request;

    // Set when a CONNECT got its 200: the request ends in the tunnel, after this object moved on.
    private TunnelHandoff? _handoff;

    /// <summary>Made by <see cref="ConnectionPool.Rent"/> only: one connection object serves many clients in turn.</summary>
    internal ProxyConnection(ConnectionPool home)
    {
        _home = home;
        _handle = home.Handle;
        _draining = home.Draining;
        _aborted = home.Aborted;
        _services = _handle.Current;
    }

    /// <summary>
    /// The one reset of per-connection state, for the next client: its reader and writer, its
    /// address, what its listener speaks; the configuration in force now. Per-request state is
    /// reset by <see cref="BeginRequest"/>.
    /// </summary>
    /// <param name="protocol">What the listener's clients speak; SOCKS5 is one handshake, one tunnel.</param>
    internal void Attach(PipeReader input, PipeWriter output, IPEndPoint client, ClientProtocol protocol)
    {
        _services = _handle.Current;
        _input = input;
        _output = output;
        _client = client;
        _protocol = protocol;
        _socks = protocol == ClientProtocol.Socks5;
        _reader.Attach(input, _services.ParserLimits);
        _exchange?.Attach(input, output);
        _handshake?.Attach(input, output);
        _head.Reset();
        _router.Reset();
        _request = default;
        _handoff = null;
    }

    /// <summary>
    /// Serves the connection until the client leaves, an error closes it, shutdown, or a tunnel
    /// takes it over; disposes itself at the end. The tunnel it returns runs after this object and
    /// its request loop are gone (<see cref="TunnelHandoff.RunAsync"/>), so a caller awaits it with
    /// no reference to the connection: <c>await pool.Rent(…).RunAsync()</c>.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<TunnelHandoff?> RunAsync()
    {
        try
        {
            if (_protocol == ClientProtocol.Auto)
            {
                _socks = await _reader.PeekIsSocksAsync(_services.Limits.RequestHeadTimeout).ConfigureAwait(false);
            }

            if (_socks)
            {
                await RunSocksAsync().ConfigureAwait(false);
            }
            else
            {
                // The HTTP request loop, inline: one frame per connection. An idle keep-alive
                // connection waiting for its next request closes as soon as draining starts.
                CancellationTokenRegistration onDrain = _draining.UnsafeRegister(static s => ((RequestHeadReader)s!).WakeIfIdle(), _reader);
                try
                {
                    while (!_draining.IsCancellationRequested)
                    {
                        // The wait between requests is this frame's own: its wake-up resumes this
                        // loop alone, and the head is then read without a wait. What the wait met
                        // (the idle timeout, a reset, a drain) the read reports.
                        ValueTask<int> idle = _reader.WaitForRequestAsync(_services.Limits);
                        if (idle.IsCompletedSuccessfully)
                        {
                            // Taken even when done: the socket's operation is reused only once its
                            // result is read (ValueTask's contract), and a wait started off the loop
                            // (after an await on Redis, say) can be done by the loop before this check.
                            _ = idle.Result;
                        }
                        else
                        {
                            try
                            {
                                await idle.ConfigureAwait(false);
                            }
                            catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
                            {
                            }
                        }

                        HeadOutcome outcome = await _reader.ReadAsync(_head, _services.Limits, _draining).ConfigureAwait(false);
                        if (outcome != HeadOutcome.Complete)
                        {
                            await FinishUnparsedAsync(outcome).ConfigureAwait(false);
                            break;
                        }

                        BeginRequest();
                        bool keepGoing;
                        try
                        {
                            keepGoing = await HandleRequestAsync().ConfigureAwait(false);
                        }
                        catch (Exception e) when (IsInternalFault(e))
                        {
                            keepGoing = await FailInternallyAsync(e).ConfigureAwait(false);
                        }
                        finally
                        {
                            _router.Release();
                        }

                        if (_handoff is not null)
                        {
                            break;   // the tunnel writes the line when it ends
                        }

                        WriteAccessLog();
                        if (!keepGoing || !_head.KeepAlive)
                        {
                            break;
                        }

                        _head.Reset();
                    }
                }
                finally
                {
                    onDrain.Dispose();
                }
            }

            TunnelHandoff? handoff = _handoff;
            Recycle();
            return handoff;
        }
        catch
        {
            // A socket error or a cut ended the loop mid-request: something it started (an upload
            // still reading the client) may not have ended, so this object is not handed to
            // another client.
            Dispose();
            throw;
        }
    }

    // The loop ended normally: let go of the client and go back to the pool.
    private void Recycle()
    {
        _handoff = null;
        _credentials.AsSpan().Clear();
        _input = null!;
        _output = null!;
        _client = null!;
        _reader.Detach();
        _exchange?.Detach();
        _handshake?.Detach();
        _home.Return(this);
    }

    /// <summary>For the pool: a connection it does not keep.</summary>
    public void Dispose()
    {
        _reader.Dispose();
        _exchange?.Dispose();
    }

    /// <summary>The one reset of per-request state: the request's record and the router's attempt sequence.</summary>
    private void BeginRequest()
    {
        _services = _handle.Current;
        _request = new RequestState(CorrelationId.Next(), _services.Time.GetTimestamp());
        _router.Reset();
    }

    /// <summary>
    /// authenticate → admit → route → tunnel or exchange; true when the connection carries on. Not
    /// a frame of its own when the screening completes at once (the usual case): the tunnel or the
    /// exchange is returned directly, so the wait for the answer does not suspend one more frame.
    /// The tunnel and the exchange end their admission themselves.
    /// </summary>
    private ValueTask<bool> HandleRequestAsync()
    {
        ValueTask<bool?> screened = ScreenAsync();
        if (!screened.IsCompletedSuccessfully)
        {
            return DispatchAfterAsync(screened);
        }

        return screened.Result is bool answered ? new ValueTask<bool>(answered) : Dispatch();
    }

    private ValueTask<bool> Dispatch() => _head.TargetForm == TargetForm.Authority ? TunnelAsync() : ForwardAsync();

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> DispatchAfterAsync(ValueTask<bool?> screened) =>
        await screened.ConfigureAwait(false) is bool answered ? answered : await Dispatch().ConfigureAwait(false);

    /// <summary>authenticate → admit: null when admitted; otherwise the request was answered and the value says whether the connection carries on.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool?> ScreenAsync()
    {
        ErrorCode authError = _socks ? _request.DeferredRefusal : Authenticate(_head.ProxyAuthorization, _head.TargetForm == TargetForm.Authority ? ProxyProtocols.Https : ProxyProtocols.Http);
        if (authError != ErrorCode.None)
        {
            if (authError == ErrorCode.AuthFailed && await ThrottleAuthFailureAsync().ConfigureAwait(false))
            {
                _head.KeepAlive = false;
            }

            // A 407 leaves the connection usable when the request carried no body, so a client
            // can retry with credentials (errors.md); anything else with a body must close.
            return await RejectAsync(ProxyFailures.Refused(authError)).ConfigureAwait(false);
        }

        if (_head.TargetForm is not (TargetForm.Authority or TargetForm.Absolute))
        {
            return await RejectAsync(ProxyFailures.OriginForm).ConfigureAwait(false);
        }

        return await AdmitAsync().ConfigureAwait(false);
    }

    /// <summary>A fault of the engine itself, not the client or a peer going away (those end the connection as before).</summary>
    private static bool IsInternalFault(Exception e) =>
        e is not (OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException or ConnectionResetException);

    /// <summary>
    /// Nothing fails silently (errors.md): 500 INTERNAL_ERROR when nothing of the answer went out
    /// yet, the exception logged with the correlation id either way, counted; the connection closes.
    /// </summary>
    private async ValueTask<bool> FailInternallyAsync(Exception e)
    {
        _services.Metrics?.InternalError();
        Span<byte> id = stackalloc byte[CorrelationId.Length];
        _request.CorrelationId.TryFormat(id, out _);
        ConnectionLog.InternalError(_services.Log, System.Text.Encoding.ASCII.GetString(id), e);
        if (_request.Status == 0)
        {
            WriteError(ProxyFailures.Internal, keepAlive: false);
            await FlushAsync().ConfigureAwait(false);
        }
        else
        {
            _request.Error = ProxyFailures.Internal.Code;
        }

        return false;
    }

    /// <summary>Checks a Proxy-Authorization value (or the client's address for IP auth); sets the package and the rules' length.</summary>
    private ErrorCode Authenticate(ReadOnlySpan<byte> proxyAuthorization, ProxyProtocols protocol)
    {
        // Base64 decodes to 3/4 of its length, so this is room for whatever the header can hold.
        int room = Math.Min(BasicCredentials.MaxDecodedLength, (proxyAuthorization.Length * 3 / 4) + 3);
        if (_credentials.Length < room)
        {
            _credentials = new byte[Math.Max(room, 128)];
        }

        AuthOutcome outcome = _services.Packages.Authenticate(
            proxyAuthorization, _client.Address, protocol, _credentials, out _request.Package, out _request.RulesLength);
        return ProxyFailures.Of(outcome);
    }

    /// <summary>Counts a wrong key from this address; over its budget, one guess per second per connection (true: slowed).</summary>
    private async ValueTask<bool> ThrottleAuthFailureAsync()
    {
        if (!_services.AuthThrottle.RecordFailure(_client.Address))
        {
            return false;
        }

        await Task.Delay(AuthFailureThrottle.Delay, _services.Time, _aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return true;
    }

    /// <summary>The rule string in force: the username, or the package's <c>DefaultRules</c> when it is empty.</summary>
    private ReadOnlyMemory<byte> RuleBytes =>
        _request.RulesLength > 0 ? _credentials.AsMemory(0, _request.RulesLength) : _request.Package!.DefaultRulesBytes;

    /// <summary>Parses the rules once per request; false when they are invalid (<see cref="RequestState.RuleError"/>).</summary>
    private bool ParseRules()
    {
        if (!_request.RulesParsed)
        {
            _request.RulesParsed = true;
            Rules.RuleParser.TryParse(RuleBytes.Span, _request.Package!.Rules, out _request.Rules, out _request.RuleError);
        }

        return _request.RuleError.Code == ErrorCode.None;
    }

    private void WriteAccessLog() =>
        RequestLog.Write(_services, _request, _head, _client, _router, tunnel: _socks || _head.TargetForm == TargetForm.Authority, LoggedRules);

    /// <summary>The rules the client sent, for the log line (never the key); empty when the package's defaults applied.</summary>
    private ReadOnlySpan<byte> LoggedRules => _request.RulesLength > 0 ? _credentials.AsSpan(0, _request.RulesLength) : default;
}
