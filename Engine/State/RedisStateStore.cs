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

    // Flushes are numbered per process; Redis keeps the last number it applied (a week past the last flush).
    private readonly RedisKey _flushedKey;
    private long _flushNumber;
    private FlushBatch? _unanswered;   // sent, no answer yet: goes again as it is (under _flushing)
    private readonly Task _loop;
    private int _disposed;

    private RedisStateStore(RedisStateOptions options, RedisLink link, TimeProvider time, TimeProvider? sessionClockShift)
    {
        _options = options;
        _keys = new RedisKeys(options.KeyPrefix);
        _flushedKey = _keys.Flushed(Guid.NewGuid().ToString("N"));
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

    /// <summary>The Redis client is connected (tests: Redis is back before the probe has run).</summary>
    internal bool IsConnected => _link.IsConnected;

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

        Counter(packageId).Add(bytes);
        _credits.Add(bytes);
    }

    /// <summary>
    /// A package this instance has not counted yet reads 0 until the next flush, which from then on
    /// reads its shared total too.
    /// </summary>
    public long TrafficUsed(string packageId) => Counter(packageId).Used;

    public void RetireTraffic(string packageId)
    {
        if (_traffic.TryGetValue(packageId, out TrafficCounter? counter))
        {
            counter.Retired = true;
        }
    }

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
    /// totals back. On failure nothing was subtracted, and the same batch goes again, under the same
    /// number, before any new bytes: a flush whose answer was late (a Redis stall past the timeout,
    /// which the script still ran) or lost is not applied twice, so every byte counts once.
    /// </summary>
    private async Task<bool> FlushAsync()
    {
        // One flush at a time: each subtracts exactly what it sent, so two must not send the same bytes.
        await _flushing.WaitAsync();
        try
        {
            bool again = _unanswered is not null;
            bool flushed = await FlushOnceAsync();
            return flushed && again ? await FlushOnceAsync() : flushed;   // then the bytes counted since
        }
        finally
        {
            _flushing.Release();
        }
    }

    private async Task<bool> FlushOnceAsync()
    {
        FlushBatch batch = _unanswered ?? NewBatch();
        _unanswered = batch;
        try
        {
            var totals = (RedisResult[])(await _link.Bounded(_link.Database.ScriptEvaluateAsync(RedisScripts.Flush, batch.Keys, batch.Adds)))!;
            for (int i = 0; i < batch.Counters.Length; i++)
            {
                batch.Counters[i].Flushed((long)batch.Adds[i], (long)totals[i]);
            }

            _unanswered = null;
            return true;
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            _link.Fail(e);
            return false;
        }
    }

    /// <summary>What is pending now: every counter still read (a past period's only while it has bytes to send), then the credit pool.</summary>
    private FlushBatch NewBatch()
    {
        KeyValuePair<string, TrafficCounter>[] traffic = [.. _traffic.Where(static c => !c.Value.Retired || Volatile.Read(ref c.Value.Pending) != 0)];
        var counters = new TrafficCounter[traffic.Length + 1];
        var keys = new RedisKey[traffic.Length + 2];
        var adds = new RedisValue[traffic.Length + 2];
        for (int i = 0; i < traffic.Length; i++)
        {
            counters[i] = traffic[i].Value;
            keys[i] = _keys.Traffic(traffic[i].Key);
            adds[i] = Volatile.Read(ref traffic[i].Value.Pending);
        }

        counters[^1] = _credits;
        keys[^2] = _keys.Credits;
        adds[^2] = Volatile.Read(ref _credits.Pending);
        keys[^1] = _flushedKey;
        adds[^1] = ++_flushNumber;
        return new FlushBatch(counters, keys, adds);
    }

    /// <summary>One flush as sent: the counters, their keys and adds, the flush-number key and the number last.</summary>
    private sealed record FlushBatch(TrafficCounter[] Counters, RedisKey[] Keys, RedisValue[] Adds);

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
        else if (await _link.PingAsync())
        {
            // Redis is back but the probe has not run yet: send the bytes counted during the outage
            // rather than drop them with the process (the outage already ended every lease here).
            await FlushAsync();
        }

        await _link.DisposeAsync();
        _stop.Dispose();
        _flushing.Dispose();
        await _local.DisposeAsync();
    }
}
