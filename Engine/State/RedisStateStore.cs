using System.Collections.Concurrent;
using Engine.Upstream;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Engine.Sessions;

namespace Engine.State;

/// <summary>
/// <c>State:Store = redis</c>: sessions, request tokens, traffic and credits shared by every
/// instance through one Redis. Tokens are an atomic Lua script per request; sessions too, except
/// those this instance holds the lease of (RedisSessionStore's near cache, renewed from this
/// store's loop); traffic is counted locally and flushed every
/// <see cref="RedisStateOptions.FlushInterval"/> by a background loop that also reads the shared
/// totals back. While Redis is unreachable the store is degraded:
/// it answers from an internal <see cref="MemoryStateStore"/> (local buckets at the full rate,
/// local sessions) and keeps counting traffic, which the first flush after recovery sends.
/// Nothing here throws an outage at a caller, and no call waits longer than the timeout.
/// </summary>
internal sealed class RedisStateStore : IStateStore
{
    private readonly RedisLink _link;
    private readonly RedisKeys _keys;
    private readonly RedisStateOptions _options;
    private readonly MemoryStateStore _local;
    private readonly RedisSessionStore _sessions;
    private readonly ConcurrentDictionary<string, TrafficCounter> _traffic = new(StringComparer.Ordinal);
    private readonly TrafficCounter _credits = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private readonly Task _loop;
    private int _disposed;

    private RedisStateStore(RedisStateOptions options, RedisLink link, TimeProvider time, TimeProvider? sessionClockShift)
    {
        _options = options;
        _keys = new RedisKeys(options.KeyPrefix);
        _local = new MemoryStateStore(time);
        _link = link;
        _sessions = new RedisSessionStore(_link, _keys, _local.Sessions, sessionClockShift, options);
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Connects (asynchronously: see <see cref="RedisLink.ConnectAsync"/>) and starts the flush loop.</summary>
    public static Task<RedisStateStore> ConnectAsync(RedisStateOptions options, TimeProvider time, ILogger logger) =>
        ConnectAsync(options, time, logger, sessionClockShift: null);

    /// <param name="sessionClockShift">
    /// Tests only (not an option: nothing in configuration reaches it): time advanced on this clock is
    /// added to Redis's <c>TIME</c> for session expiry and rotation, so the session contract's timing
    /// rules run without waiting. RedisSessionStoreTests also lets a real TTL expire without it.
    /// </param>
    internal static async Task<RedisStateStore> ConnectAsync(RedisStateOptions options, TimeProvider time, ILogger logger, TimeProvider? sessionClockShift)
    {
        RedisLink link = await RedisLink.ConnectAsync(options, logger).ConfigureAwait(false);
        var store = new RedisStateStore(options, link, time, sessionClockShift);
        if (!link.IsDegraded)
        {
            await store._sessions.SubscribeAsync().ConfigureAwait(false);
        }

        return store;
    }

    public ISessionStore Sessions => _sessions;

    public long CreditsUsed => _credits.Used;

    public bool IsDegraded => _link.IsDegraded;

    /// <summary>How many times this store fell back to local state (published as a metric).</summary>
    public long DegradedTransitions => _link.DegradedTransitions;

    public ValueTask<RateDecision> TakeTokenAsync(string packageId, int ratePerSecond)
    {
        if (ratePerSecond <= 0 || _link.IsDegraded)
        {
            return _local.TakeTokenAsync(packageId, ratePerSecond);
        }

        return TakeSharedTokenAsync(packageId, ratePerSecond);
    }

    private async ValueTask<RateDecision> TakeSharedTokenAsync(string packageId, int ratePerSecond)
    {
        try
        {
            RedisResult result = await _link.Bounded(_link.Database.ScriptEvaluateAsync(RedisScripts.TakeToken, [_keys.Bucket(packageId)], [ratePerSecond]));
            var answer = (RedisResult[])result!;
            return (int)answer[0] == 1 ? RateDecision.Admit : new RateDecision(false, (int)answer[1]);
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            _link.Fail(e);
            return _local.TakeToken(packageId, ratePerSecond);
        }
    }

    public void AddTraffic(string packageId, long bytes)
    {
        if (bytes <= 0)
        {
            return;
        }

        Interlocked.Add(ref Counter(packageId).Pending, bytes);
        Interlocked.Add(ref _credits.Pending, bytes);
    }

    /// <summary>
    /// A package this instance has not counted yet reads 0 until the next flush, which from then on
    /// reads its shared total too.
    /// </summary>
    public long TrafficUsed(string packageId) => Counter(packageId).Used;

    private TrafficCounter Counter(string packageId) => _traffic.GetOrAdd(packageId, static _ => new TrafficCounter());

    private async Task RunAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.FlushInterval);
        long lastProbe = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (!_link.IsDegraded)
                {
                    await FlushAsync();
                    await _sessions.MaintainAsync();
                    continue;
                }

                if (Environment.TickCount64 - lastProbe < _options.ProbeInterval.TotalMilliseconds)
                {
                    continue;
                }

                lastProbe = Environment.TickCount64;
                long pending = Volatile.Read(ref _credits.Pending);
                if (await _link.PingAsync() && await FlushAsync())
                {
                    _link.Recovered(pending);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    /// <summary>
    /// Sends every package's unflushed bytes (and the credit pool's) in one script and takes the
    /// totals back. On failure nothing was subtracted, so the bytes go with the next flush. A reply
    /// lost after Redis applied the script would count those bytes twice; the timeout makes that rare.
    /// </summary>
    private async Task<bool> FlushAsync()
    {
        // One flush at a time: each subtracts exactly what it sent, so two must not send the same bytes.
        await _flushing.WaitAsync();
        try
        {
            return await FlushOnceAsync();
        }
        finally
        {
            _flushing.Release();
        }
    }

    private async Task<bool> FlushOnceAsync()
    {
        KeyValuePair<string, TrafficCounter>[] counters = [.. _traffic];
        var keys = new RedisKey[counters.Length + 1];
        var adds = new RedisValue[counters.Length + 1];
        for (int i = 0; i < counters.Length; i++)
        {
            keys[i] = _keys.Traffic(counters[i].Key);
            adds[i] = Volatile.Read(ref counters[i].Value.Pending);
        }

        long creditAdd = Volatile.Read(ref _credits.Pending);
        keys[^1] = _keys.Credits;
        adds[^1] = creditAdd;
        try
        {
            var totals = (RedisResult[])(await _link.Bounded(_link.Database.ScriptEvaluateAsync(RedisScripts.Flush, keys, adds)))!;
            for (int i = 0; i < counters.Length; i++)
            {
                TrafficCounter counter = counters[i].Value;
                Volatile.Write(ref counter.Shared, (long)totals[i]);
                Interlocked.Add(ref counter.Pending, -(long)adds[i]);
            }

            Volatile.Write(ref _credits.Shared, (long)totals[^1]);
            Interlocked.Add(ref _credits.Pending, -creditAdd);
            return true;
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            _link.Fail(e);
            return false;
        }
    }

    /// <summary>Test hook and shutdown path: one flush now (false when Redis is not reachable).</summary>
    public Task<bool> FlushNowAsync() => _link.IsDegraded ? Task.FromResult(false) : FlushAsync();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        await _loop;
        if (!_link.IsDegraded)
        {
            // The last bytes of a graceful stop and the sessions held here, handed on at once;
            // bounded by the timeout like every call.
            await FlushAsync();
            await _sessions.ReleaseAllAsync();
        }

        await _link.DisposeAsync();
        _stop.Dispose();
        _flushing.Dispose();
        await _local.DisposeAsync();
    }
}
