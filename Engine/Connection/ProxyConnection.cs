using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using Engine.Auth;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Http;
using Engine.Transport;

namespace Engine.Connection;

/// <summary>
/// One client connection: parse a request head → authenticate → check the target → tunnel
/// (CONNECT) or forward (absolute-URI) → next request while keep-alive holds. Every refusal is a
/// catalog error written by <see cref="ErrorWriter"/>; every request ends in one access-log line.
/// </summary>
internal sealed partial class ProxyConnection : IDisposable
{
    private readonly ServicesHandle? _handle;
    private ProxyServices _services;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly IPEndPoint _client;
    private readonly CancellationToken _draining;
    private readonly CancellationToken _aborted;
    private readonly HttpRequestParser _parser;
    private readonly RequestHead _head = new();
    private readonly CancellationTokenSource _deadline = new();
    // Decoded Basic credentials (rules:key); sized to the longest header this connection sent, not
    // to the 1 KiB limit, because every held tunnel keeps it.
    private byte[] _credentials = [];

    private readonly ClientProtocol _protocol;
    private bool _socks;
    private bool _awaitingHead;

    // Per request: reset by BeginRequest.
    private CorrelationId _correlationId;
    private long _requestStarted;
    private Package? _package;
    private int _rulesLength;
    private string _nodeId = string.Empty;
    private byte[] _nodeIdBytes = [];
    private long _bytesIn;
    private long _bytesOut;
    private int _status;
    private ErrorCode _error;
    private TerminationState _termination;

    /// <param name="draining">Shutdown began: finish the request in flight, accept no further one.</param>
    /// <param name="aborted">The drain period is over: cut whatever is still running.</param>
    /// <param name="protocol">What the listener's clients speak; SOCKS5 is one handshake, one tunnel.</param>
    public ProxyConnection(ProxyServices services, PipeReader input, PipeWriter output, IPEndPoint client, CancellationToken draining, CancellationToken aborted,
        ClientProtocol protocol = ClientProtocol.Http)
        : this(new ServicesHandle(services), input, output, client, draining, aborted, protocol)
    {
    }

    /// <param name="handle">The configuration in force; re-read at every request so a reload reaches keep-alive connections.</param>
    public ProxyConnection(ServicesHandle handle, PipeReader input, PipeWriter output, IPEndPoint client, CancellationToken draining, CancellationToken aborted,
        ClientProtocol protocol = ClientProtocol.Http)
    {
        _handle = handle;
        ProxyServices services = handle.Current;
        _protocol = protocol;
        _socks = protocol == ClientProtocol.Socks5;
        _services = services;
        _input = input;
        _output = output;
        _client = client;
        _draining = draining;
        _aborted = aborted;
        _parser = new HttpRequestParser(services.ParserLimits);
    }

    /// <summary>Runs until the client leaves, an error closes the connection, or shutdown.</summary>
    public async Task RunAsync()
    {
        if (_protocol == ClientProtocol.Auto)
        {
            _socks = await FirstByteIsSocksAsync().ConfigureAwait(false);
        }

        if (_socks)
        {
            await RunSocksAsync().ConfigureAwait(false);
            return;
        }

        // An idle keep-alive connection waiting for its next request closes as soon as draining starts.
        CancellationTokenRegistration onDrain = _draining.UnsafeRegister(static s => ((ProxyConnection)s!).OnDraining(), this);
        try
        {
            while (!_draining.IsCancellationRequested)
            {
                HeadOutcome outcome = await ReadHeadAsync().ConfigureAwait(false);
                if (outcome != HeadOutcome.Complete)
                {
                    await FinishUnparsedAsync(outcome).ConfigureAwait(false);
                    return;
                }

                BeginRequest();
                bool keepGoing;
                try
                {
                    keepGoing = await HandleRequestAsync().ConfigureAwait(false);
                }
                finally
                {
                    ReleaseNode();
                }

                WriteAccessLog();
                if (!keepGoing || !_head.KeepAlive)
                {
                    return;
                }

                _head.Reset();
            }
        }
        finally
        {
            onDrain.Dispose();
        }
    }

    public void Dispose() => _deadline.Dispose();

    /// <summary>Peeks at the first byte without consuming it (within the head deadline); a silent client is served as HTTP, whose reader then times it out.</summary>
    private async ValueTask<bool> FirstByteIsSocksAsync()
    {
        _deadline.CancelAfter(_services.Limits.RequestHeadTimeout);
        try
        {
            ReadResult read = await _input.ReadAsync(_deadline.Token).ConfigureAwait(false);
            bool socks = !read.Buffer.IsEmpty && read.Buffer.FirstSpan[0] == 0x05;
            _input.AdvanceTo(read.Buffer.Start);
            return socks;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            _deadline.TryReset();
        }
    }

    // Only a connection idle between requests is woken to close; a request or tunnel in flight
    // is left to finish within the drain period.
    private void OnDraining()
    {
        if (Volatile.Read(ref _awaitingHead))
        {
            _input.CancelPendingRead();
        }
    }

    private void BeginRequest()
    {
        _services = _handle?.Current ?? _services;
        _correlationId = CorrelationId.Next();
        _requestStarted = _services.Time.GetTimestamp();
        _package = null;
        _rulesLength = 0;
        _nodeId = string.Empty;
        _nodeIdBytes = [];
        _bytesIn = 0;
        _bytesOut = 0;
        _status = 0;
        _error = ErrorCode.None;
        _termination = TerminationState.Normal;
        _attempts = 0;
        _triedCount = 0;
        _sameNodeRetries = 0;
        _replaced = false;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> HandleRequestAsync()
    {
        ProxyProtocols protocol = _socks ? ProxyProtocols.Socks5 : _head.TargetForm == TargetForm.Authority ? ProxyProtocols.Https : ProxyProtocols.Http;
        if (!Authenticate(_head.ProxyAuthorization, protocol, out ErrorCode authError))
        {
            if (authError == ErrorCode.AuthFailed && _services.AuthThrottle.RecordFailure(_client.Address))
            {
                // Over this address's failure budget: one guess per second per connection.
                await Task.Delay(AuthFailureThrottle.Delay, _services.Time, _aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                _head.KeepAlive = false;
            }

            // A 407 leaves the connection usable when the request carried no body, so a client
            // can retry with credentials (errors.md); anything else with a body must close.
            return await RejectAsync(authError, default).ConfigureAwait(false);
        }

        if (_head.TargetForm is not (TargetForm.Authority or TargetForm.Absolute))
        {
            return await RejectAsync(ErrorCode.WrongUrl, "origin-form request: a proxy needs an absolute URI (http://host/path) or CONNECT host:port"u8).ConfigureAwait(false);
        }

        if (await AdmitAsync().ConfigureAwait(false) is bool refused)
        {
            return refused;
        }

        try
        {
            return _head.TargetForm == TargetForm.Authority
                ? await TunnelAsync().ConfigureAwait(false)
                : await ForwardAsync().ConfigureAwait(false);
        }
        finally
        {
            EndAdmitted();
        }
    }

    private bool Authenticate(ReadOnlySpan<byte> proxyAuthorization, ProxyProtocols protocol, out ErrorCode error)
    {
        // Base64 decodes to 3/4 of its length, so this is room for whatever the header can hold.
        int room = Math.Min(BasicCredentials.MaxDecodedLength, (proxyAuthorization.Length * 3 / 4) + 3);
        if (_credentials.Length < room)
        {
            _credentials = new byte[Math.Max(room, 128)];
        }

        AuthOutcome outcome = _services.Packages.Authenticate(
            proxyAuthorization, _client.Address, protocol, _credentials, out _package, out _rulesLength);
        error = outcome switch
        {
            AuthOutcome.Authenticated => ErrorCode.None,
            AuthOutcome.Missing => ErrorCode.ErrAuthRequired,
            AuthOutcome.Malformed or AuthOutcome.UnknownKey => ErrorCode.AuthFailed,
            AuthOutcome.IpNotAllowed => ErrorCode.IpNotAllowed,
            AuthOutcome.Paused => ErrorCode.PackagePaused,
            AuthOutcome.Suspended => ErrorCode.PackageSuspended,
            _ => ErrorCode.Disallowed,
        };
        return outcome == AuthOutcome.Authenticated;
    }

    /// <summary>The targeting rules the client sent (the username), empty when none.</summary>
    private ReadOnlySpan<byte> Rules => _rulesLength > 0 ? _credentials.AsSpan(0, _rulesLength) : default;

    private void WriteAccessLog()
    {
        _services.Metrics?.RequestEnded(_socks || _head.TargetForm == TargetForm.Authority, _status, _error, _package?.Id, _bytesIn, _bytesOut, _services.Time.GetElapsedTime(_requestStarted));
        AccessLog? log = _services.AccessLog;
        if (log is null)
        {
            return;
        }

        Span<byte> id = stackalloc byte[CorrelationId.Length];
        _correlationId.TryFormat(id, out _);
        ErrorDescriptor? error = _error == ErrorCode.None ? null : ErrorCatalog.Get(_error);
        log.Write(new AccessLogEntry
        {
            Time = _services.Time.GetUtcNow(),
            CorrelationId = id,
            Client = _client,
            PackageId = _package?.Id,
            Rules = Rules,
            Method = _head.MethodBytes,
            Target = _head.Target,
            NodeId = _nodeId,
            Status = _status,
            Code = error is null ? default : error.Name,
            BytesIn = _bytesIn,
            BytesOut = _bytesOut,
            Duration = _services.Time.GetElapsedTime(_requestStarted),
            Termination = _termination,
            Attempts = _attempts,
        });
    }
}
