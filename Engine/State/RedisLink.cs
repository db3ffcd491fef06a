using System.Diagnostics;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Engine.State;

/// <summary>
/// The connection to Redis and whether it is usable. Any outage (connection lost, a timeout, a
/// failed connect) flips <see cref="IsDegraded"/> once and logs once; callers then serve from local
/// state without touching Redis until the store's probe finds it back and calls <see cref="Recovered"/>.
/// </summary>
internal sealed class RedisLink : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _connection;
    private readonly ILogger _logger;
    private readonly TimeSpan _timeout;
    private int _degraded;
    private int _closing;
    private long _transitions;
    private long _degradedSince;

    private RedisLink(ConnectionMultiplexer connection, ILogger logger, TimeSpan timeout)
    {
        _connection = connection;
        _logger = logger;
        _timeout = timeout;
        Database = connection.GetDatabase();
        Subscriber = connection.GetSubscriber();
        _connection.ConnectionFailed += (_, e) => Fail(e.Exception?.Message ?? e.FailureType.ToString());
    }

    public IDatabase Database { get; }

    /// <summary>Pub/sub: the session handoff between instances (RedisSessionStore.Leases.cs).</summary>
    public ISubscriber Subscriber { get; }

    public bool IsDegraded => Volatile.Read(ref _degraded) != 0;

    /// <summary>The client's connection is up (it reconnects by itself); the store is still degraded until the probe finds Redis answering.</summary>
    public bool IsConnected => _connection.IsConnected;

    /// <summary>How many times the store went from shared to local state (a start without Redis counts).</summary>
    public long DegradedTransitions => Interlocked.Read(ref _transitions);

    /// <summary>
    /// Connects without failing when Redis is down: the multiplexer keeps reconnecting in the
    /// background and the link starts degraded. Only an unparsable configuration throws.
    /// </summary>
    /// <remarks>
    /// Asynchronous, never <c>ConnectionMultiplexer.Connect</c>: that one waits on its handshake with
    /// <c>Task.Wait</c>, and a caller that runs on a socket thread (inline completions, the daemon's
    /// mode: any code after an awaited socket operation) then blocks the epoll thread that must
    /// deliver the handshake's reply whenever Redis's socket lands on that thread. Every start then
    /// waited out the connect timeout and began degraded (seen with dotnet-stack: the epoll thread
    /// in <c>ConnectImpl</c> → <c>Task.Wait</c>); that, not the commands, was the "5 s stall".
    /// </remarks>
    public static async Task<RedisLink> ConnectAsync(RedisStateOptions options, ILogger logger)
    {
        ConfigurationOptions configuration = ConfigurationOptions.Parse(options.Configuration);
        int milliseconds = (int)options.Timeout.TotalMilliseconds;
        configuration.AbortOnConnectFail = false;
        // Connecting (at start and on reconnects) holds up no request: commands fail fast meanwhile.
        // A cold process needs more than the call timeout for its first handshake (measured ~0.8 s).
        configuration.ConnectTimeout = Math.Max(2000, milliseconds);
        configuration.SyncTimeout = milliseconds;
        configuration.AsyncTimeout = milliseconds;
        configuration.ConnectRetry = 1;
        configuration.ReconnectRetryPolicy = new LinearRetry(milliseconds);
        // Timeouts are checked on the heartbeat (1 s by default); our bound is half a second.
        configuration.HeartbeatInterval = TimeSpan.FromMilliseconds(Math.Max(100, milliseconds / 2));
        // The default backlog holds commands while disconnected until they time out; a request must
        // instead fall back at once.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName ??= "engine";
        var link = new RedisLink(await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false), logger, options.Timeout);
        if (!link._connection.IsConnected)
        {
            link.Fail("not reachable at start");
        }

        return link;
    }

    /// <summary>Failures that mean "Redis is not usable right now", as opposed to a bug.</summary>
    public static bool IsOutage(Exception e) => e is RedisException or TimeoutException or ObjectDisposedException;

    public void Fail(Exception e) => Fail(e.Message);

    public void Fail(string reason)
    {
        // Closing drops the connection on purpose: that is no outage to report.
        if (Volatile.Read(ref _closing) == 0 && Interlocked.CompareExchange(ref _degraded, 1, 0) == 0)
        {
            Volatile.Write(ref _degradedSince, Stopwatch.GetTimestamp());
            Interlocked.Increment(ref _transitions);
            StateLog.Degraded(_logger, reason);
        }
    }

    /// <summary>The probe found Redis back and the bytes counted meanwhile are flushed.</summary>
    public void Recovered(long flushedBytes)
    {
        if (Interlocked.CompareExchange(ref _degraded, 0, 1) == 1)
        {
            StateLog.Recovered(_logger, Stopwatch.GetElapsedTime(Volatile.Read(ref _degradedSince)), flushedBytes);
        }
    }

    /// <summary>True when Redis answers a PING within the timeout.</summary>
    public async Task<bool> PingAsync()
    {
        if (!_connection.IsConnected)
        {
            return false;
        }

        try
        {
            await Bounded(Database.PingAsync());
            return true;
        }
        catch (Exception e) when (IsOutage(e))
        {
            return false;
        }
    }

    /// <summary>
    /// Awaits a Redis call for at most the timeout. The client's own timeouts should fire first;
    /// this is the backstop, and a call it abandons is still observed so its late failure is not an
    /// unobserved task exception.
    /// </summary>
    public Task<T> Bounded<T>(Task<T> call)
    {
        if (call.IsCompleted)
        {
            return call;
        }

        _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return call.WaitAsync(_timeout);
    }

    /// <inheritdoc cref="Bounded{T}(Task{T})"/>
    public Task Bounded(Task call)
    {
        if (call.IsCompleted)
        {
            return call;
        }

        _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return call.WaitAsync(_timeout);
    }

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _closing, 1);
        try
        {
            await _connection.CloseAsync(allowCommandsToComplete: false).WaitAsync(_timeout);
        }
        catch (Exception e) when (IsOutage(e))
        {
            // Closing a link to a Redis that is gone has nothing left to do.
        }

        await _connection.DisposeAsync();
    }
}
