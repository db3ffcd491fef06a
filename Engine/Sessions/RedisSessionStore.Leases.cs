using System.Collections.Concurrent;
using System.Diagnostics;
using StackExchange.Redis;
using Engine.State;

namespace Engine.Sessions;

/// <summary>The near cache: sessions this instance holds the lease of, their write-back and the handoff.</summary>
internal sealed partial class RedisSessionStore
{
    /// <summary>Leases held at once; past it sessions are served from Redis (no lease is taken).</summary>
    public const int MaxLeases = 100_000;

    // Package ids and session ids are short tokens (rules.md: session id [a-z0-9_]{1,64}); the key is both.
    private const int MaxKeyLength = 256;
    private const char Separator = '\u0001';

    // One write-back script call carries at most this many sessions (a bounded time inside Redis).
    private const int WriteBackBatch = 256;

    private readonly string _instance = Guid.NewGuid().ToString("N");
    private readonly ConcurrentDictionary<string, SessionLease> _leases = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    // Sessions let go here whose write-back Redis has not answered yet (a release waits behind the
    // batches before it): a request for one must not reach Redis first, or Redis grants this instance
    // a new lease on the state before the release, and the release then clears that lease.
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _releasing = new(StringComparer.Ordinal);
    private ConcurrentDictionary<string, SessionLease>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    // Per key stripe: a count of the releases this instance sent (or is about to send) and the lock
    // that orders them against installing a grant. A grant whose open went out before a release of the
    // same session may be answered after Redis ran that release, which cleared it: such a grant is not
    // held here (its stripe's count moved since the open started).
    private const int Stripes = 1024;
    private readonly object[] _gates = [.. Enumerable.Range(0, Stripes).Select(_ => new object())];
    private readonly long[] _releaseCounts = new long[Stripes];

    private static int Stripe(string nearKey) => nearKey.GetHashCode() & (Stripes - 1);

    private long ReleaseCount(string nearKey) => Volatile.Read(ref _releaseCounts[Stripe(nearKey)]);

    private int _subscribed;

    private long LeaseMilliseconds => (long)options.SessionLease.TotalMilliseconds;

    // Local use ends a quarter of the lease before Redis's: covers the clocks' disagreement and a late renewal.
    private long UsableTicks => LeaseMilliseconds * 3 / 4 * Stopwatch.Frequency / 1000;

    // Renewed (or released when unused) once less than a quarter of the lease is left to use here.
    private long RenewTicks => LeaseMilliseconds / 4 * Stopwatch.Frequency / 1000;

    // A request waits for another instance's lease at most this long (the holder died without releasing).
    private TimeSpan HandoffBound => options.SessionLease + options.Timeout + options.Timeout;

    private RedisChannel ReleaseChannel(string instance) => RedisChannel.Literal(options.KeyPrefix + "sess:release:" + instance);

    private RedisChannel ReleasedChannel => RedisChannel.Literal(options.KeyPrefix + "sess:released");

    /// <summary>Leases held now (tests and the sessions table gauge).</summary>
    internal int HeldLeases => _leases.Count;

    /// <summary>
    /// Subscribes to this instance's release requests and to released sessions; false when Redis
    /// is not reachable (the store's loop tries again: until then the <c>want</c> flag does the work).
    /// </summary>
    public async Task<bool> SubscribeAsync()
    {
        if (Volatile.Read(ref _subscribed) == 1)
        {
            return true;
        }

        try
        {
            ISubscriber subscriber = link.Subscriber;
            await link.Bounded(subscriber.SubscribeAsync(ReleasedChannel, (_, message) => OnReleased(message))).ConfigureAwait(false);
            await link.Bounded(subscriber.SubscribeAsync(ReleaseChannel(_instance), (_, message) => OnReleaseRequested(message))).ConfigureAwait(false);
            Volatile.Write(ref _subscribed, 1);
            return true;
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            return false;
        }
    }

    private SessionLease? Held(string packageId, ReadOnlySpan<byte> sessionId)
    {
        if (_leases.IsEmpty)
        {
            return null;
        }

        if (_lookup.Dictionary is null)
        {
            _lookup = _leases.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        Span<char> key = stackalloc char[MaxKeyLength];
        int length = WriteKey(packageId, sessionId, key);
        return _lookup.TryGetValue(key[..length], out SessionLease? lease) ? lease : null;
    }

    private bool TryOpenHeld(SessionLease lease, ReadOnlySpan<byte> fingerprint, out SessionOpened opened)
    {
        long shift = ShiftMilliseconds();
        lock (lease)
        {
            long now = lease.NowMs(shift);
            if (!lease.IsUsable(link.DegradedTransitions) || lease.IsExpired(now))
            {
                opened = default;
                return false;   // Redis decides, after the state is written back (SettleAsync)
            }

            if (!fingerprint.SequenceEqual(lease.Fingerprint))
            {
                opened = new SessionOpened(SessionOpenStatus.Mismatch);
                return true;
            }

            lease.Used = now;
            lease.Dirty = true;
            opened = lease.RotationDue(now)
                ? new SessionOpened(SessionOpenStatus.Resumed, PreviousNodeId: lease.NodeId)
                : new SessionOpened(SessionOpenStatus.Resumed, lease.NodeId);
            return true;
        }
    }

    /// <returns>Null when the held state cannot answer (Redis must); else the bind's answer.</returns>
    private bool? TryCommitHeld(SessionLease lease, ReadOnlySpan<byte> fingerprint, bool checkFingerprint, string? expectedNodeId, string nodeId)
    {
        long shift = ShiftMilliseconds();
        lock (lease)
        {
            long now = lease.NowMs(shift);
            if (!lease.IsUsable(link.DegradedTransitions) || (checkFingerprint && lease.IsExpired(now)))
            {
                return null;
            }

            if (checkFingerprint && !fingerprint.SequenceEqual(lease.Fingerprint))
            {
                return false;   // a live session with other rules stands
            }

            lease.Commit(expectedNodeId, nodeId, now);
            return true;
        }
    }

    private bool TryGetHeld(SessionLease lease, out SessionInfo? info)
    {
        long shift = ShiftMilliseconds();
        lock (lease)
        {
            if (!lease.IsUsable(link.DegradedTransitions))
            {
                info = null;
                return false;
            }

            long now = lease.NowMs(shift);
            if (lease.IsExpired(now))
            {
                info = null;
                return true;
            }

            long left = lease.Created + (lease.Terms.LengthSeconds * 1000L) - now;
            if (lease.Terms.IdleTtlSeconds > 0)
            {
                left = Math.Min(left, lease.Used + (lease.Terms.IdleTtlSeconds * 1000L) - now);
            }

            info = new SessionInfo(lease.NodeId, lease.Requests, TimeSpan.FromMilliseconds(now - lease.Created), TimeSpan.FromMilliseconds(left), lease.Terms);
            return true;
        }
    }

    /// <summary>0 (take no lease) when the near cache is full or turned off (a zero lease).</summary>
    private long LeaseToOffer() => _leases.Count >= MaxLeases ? 0 : LeaseMilliseconds;

    /// <summary>The open script granted this instance the lease: keep the session's state here.</summary>
    private void Hold(string nearKey, RedisKey key, ReadOnlySpan<byte> fingerprint, RedisResult[] answer, long epoch, long sent, long shift, long releases)
    {
        string? node = (string?)answer[1];
        long now = (long)answer[7];
        var lease = new SessionLease(nearKey, key, fingerprint.ToArray(), epoch)
        {
            NodeId = string.IsNullOrEmpty(node) ? null : node,
            Since = (long)answer[4],
            Requests = (int)answer[5],
            Created = (long)answer[6],
            Used = now,
            Terms = new SessionTerms((int)answer[8], (int)answer[9], (int)answer[10], (int)answer[11]),
            // The request's send time stands for Redis's "now": the local clock then runs at most one
            // round trip ahead, so expiry is seen here no later than in Redis.
            BaseRedisMs = now,
            BaseTimestamp = sent,
            BaseShiftMs = shift,
            UsableUntil = sent + UsableTicks,
        };

        lock (_gates[Stripe(nearKey)])
        {
            HoldLocked(nearKey, lease, now, releases);
        }
    }

    private void HoldLocked(string nearKey, SessionLease lease, long now, long releases)
    {
        while (true)
        {
            if (ReleaseCount(nearKey) != releases)
            {
                // A release of this session went out while the grant was under way: Redis may have run
                // it after the grant. Not held; a later request asks Redis again.
                return;
            }

            if (_leases.TryAdd(nearKey, lease))
            {
                return;
            }

            if (!_leases.TryGetValue(nearKey, out SessionLease? existing))
            {
                continue;
            }

            lock (existing)
            {
                if (existing.IsUsable(link.DegradedTransitions))
                {
                    // Two requests were granted the same lease at once: the state already held here is the newer.
                    existing.Used = Math.Max(existing.Used, now);
                    existing.Dirty = true;
                    return;
                }
            }

            if (_leases.TryUpdate(nearKey, lease, existing))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Before asking Redis about a session held here but no longer usable (its time ran out, it
    /// expired, an outage came between): write its state back so Redis answers from it.
    /// </summary>
    /// <returns>The session's release count once nothing of it is held or being released here (see <see cref="Hold"/>).</returns>
    private async ValueTask<long> SettleAsync(string nearKey)
    {
        while (true)
        {
            if (!_releasing.IsEmpty && _releasing.TryGetValue(nearKey, out TaskCompletionSource? released))
            {
                await released.Task.ConfigureAwait(false);
                continue;
            }

            if (!_leases.IsEmpty && _leases.TryGetValue(nearKey, out SessionLease? lease))
            {
                await WriteBackAsync([Take(lease, WriteBackMode.Release)]).ConfigureAwait(false);
                continue;
            }

            // A release taken after the checks above but before this read is caught by the check below.
            long count = ReleaseCount(nearKey);
            if (_releasing.IsEmpty || !_releasing.ContainsKey(nearKey))
            {
                return count;
            }
        }
    }

    /// <summary>Stops serving a held session here without writing it back (it is being deleted).</summary>
    /// <returns>Whether it was live, or null when it was not held here.</returns>
    private bool? Drop(string nearKey)
    {
        lock (_gates[Stripe(nearKey)])
        {
            Interlocked.Increment(ref _releaseCounts[Stripe(nearKey)]);   // a grant under way is not held after the delete
        }

        if (!_leases.TryRemove(nearKey, out SessionLease? lease))
        {
            return null;
        }

        lock (lease)
        {
            bool usable = lease.IsUsable(link.DegradedTransitions);
            lease.Released = true;
            return usable ? !lease.IsExpired(lease.NowMs(ShiftMilliseconds())) : null;
        }
    }

    /// <summary>
    /// Another instance met our lease: wait until we hear it was released (or its time left, bounded
    /// by the call timeout), then the caller asks again.
    /// </summary>
    /// <returns>False once <see cref="HandoffBound"/> has passed since <paramref name="started"/>.</returns>
    private async ValueTask<bool> AwaitReleaseAsync(string nearKey, RedisResult[] busy, long started)
    {
        if (Stopwatch.GetElapsedTime(started) > HandoffBound)
        {
            return false;
        }

        string owner = (string)busy[1]!;
        long left = (long)busy[2];
        TaskCompletionSource waiter = _waiters.GetOrAdd(nearKey, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await link.Bounded(link.Subscriber.PublishAsync(ReleaseChannel(owner), nearKey)).ConfigureAwait(false);
        try
        {
            await waiter.Task.WaitAsync(TimeSpan.FromMilliseconds(Math.Clamp(left + 1, 1, (long)options.Timeout.TotalMilliseconds))).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _waiters.TryRemove(new KeyValuePair<string, TaskCompletionSource>(nearKey, waiter));
        }

        return true;
    }

    private void OnReleased(RedisValue message)
    {
        if (!_waiters.IsEmpty && _waiters.TryRemove((string)message!, out TaskCompletionSource? waiter))
        {
            waiter.TrySetResult();
        }
    }

    /// <summary>Another instance asked for a session this instance may hold (its release channel; tests call it directly).</summary>
    internal void OnReleaseRequested(RedisValue message)
    {
        string nearKey = (string)message!;
        int separator = nearKey.IndexOf(Separator, StringComparison.Ordinal);
        if (separator <= 0)
        {
            return;
        }

        lock (_gates[Stripe(nearKey)])
        {
            Pending pending;
            if (_leases.TryGetValue(nearKey, out SessionLease? lease))
            {
                pending = Take(lease, WriteBackMode.Release);
            }
            else
            {
                // Not held here any more, but Redis may still name us (a lease dropped after an outage):
                // clear it without state so the asker goes on.
                byte[] id = System.Text.Encoding.Latin1.GetBytes(nearKey[(separator + 1)..]);
                pending = new Pending(null, keys.Session(nearKey[..separator], id), nearKey, WriteBackMode.ReleaseWithoutState, null, 0, 0, 0);
            }

            // Sent under the gate (no grant is installed meanwhile) and counted once it is on its way:
            // a grant whose open went out before it is not held here (Redis runs this after it and
            // clears it); one whose open went out after it is Redis's and is held.
            _ = WriteBackAsync([pending]);
            Interlocked.Increment(ref _releaseCounts[Stripe(nearKey)]);
        }
    }

    /// <summary>
    /// The store's loop, every flush interval: renews the leases still in use that are near their
    /// end and releases the unused ones and those another instance asked for, in batched scripts.
    /// </summary>
    public async Task MaintainAsync()
    {
        if (Volatile.Read(ref _subscribed) == 0)
        {
            await SubscribeAsync().ConfigureAwait(false);
        }

        if (_leases.IsEmpty)
        {
            return;
        }

        long now = Stopwatch.GetTimestamp();
        long epoch = link.DegradedTransitions;
        List<Pending>? due = null;
        foreach (KeyValuePair<string, SessionLease> pair in _leases)
        {
            SessionLease lease = pair.Value;
            WriteBackMode mode;
            lock (lease)
            {
                if (lease.Released)
                {
                    _leases.TryRemove(pair);
                    continue;
                }

                // An outage came between: its lease is over here. Writing it back is still safe: the
                // script writes only while Redis names this instance the holder, so nobody else changed it.
                if (lease.Epoch == epoch && lease.UsableUntil - now > RenewTicks)
                {
                    continue;
                }

                mode = lease.Dirty && lease.Epoch == epoch ? WriteBackMode.Renew : WriteBackMode.Release;
            }

            (due ??= []).Add(Take(lease, mode));
        }

        if (due is not null)
        {
            await WriteBackAsync(due).ConfigureAwait(false);
        }
    }

    /// <summary>Writes back and releases every held session (a graceful stop hands them on at once).</summary>
    public async Task ReleaseAllAsync()
    {
        List<Pending> all = [.. _leases.Values.Select(lease => Take(lease, WriteBackMode.Release))];
        if (link.IsDegraded)
        {
            Settled(all);   // nothing to write to: the outage ended the leases
        }
        else if (all.Count > 0)
        {
            await WriteBackAsync(all).ConfigureAwait(false);
        }
    }

    /// <summary>A snapshot of a held session for the write-back; a release stops local use at once.</summary>
    private Pending Take(SessionLease lease, WriteBackMode mode)
    {
        lock (_gates[Stripe(lease.NearKey)])
        lock (lease)
        {
            TaskCompletionSource? released = null;
            if (mode == WriteBackMode.Release)
            {
                if (lease.Released)
                {
                    mode = WriteBackMode.ReleaseWithoutState;   // already written; clear a lease Redis may still show
                }
                else
                {
                    // Registered before the lease leaves the near cache: a request that misses it there finds this.
                    released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _releasing[lease.NearKey] = released;
                }

                lease.Released = true;
                // Counted before the release is sent: a request that settles after this waits for it
                // (_releasing); one past SettleAsync already does not hold what it is granted.
                Interlocked.Increment(ref _releaseCounts[Stripe(lease.NearKey)]);
                _leases.TryRemove(new KeyValuePair<string, SessionLease>(lease.NearKey, lease));
            }

            lease.Dirty = false;
            return new Pending(lease, lease.RedisKey, lease.NearKey, mode, lease.NodeId, lease.Since, lease.Requests, lease.Used, released);
        }
    }

    private async Task WriteBackAsync(List<Pending> due)
    {
        try
        {
            await WriteBackBatchesAsync(due).ConfigureAwait(false);
        }
        finally
        {
            Settled(due);
        }
    }

    /// <summary>The releases among <paramref name="due"/> were answered, or an outage ended them: requests waiting on them go on.</summary>
    private void Settled(List<Pending> due)
    {
        for (int i = 0; i < due.Count; i++)
        {
            if (due[i].Released is { } released)
            {
                _releasing.TryRemove(new KeyValuePair<string, TaskCompletionSource>(due[i].NearKey, released));
                released.TrySetResult();
            }
        }
    }

    private async Task WriteBackBatchesAsync(List<Pending> due)
    {
        List<Pending>? wanted = null;
        for (int start = 0; start < due.Count; start += WriteBackBatch)
        {
            int count = Math.Min(WriteBackBatch, due.Count - start);
            var sessionKeys = new RedisKey[count];
            var values = new RedisValue[4 + (count * 6)];
            values[0] = _instance;
            values[1] = LeaseMilliseconds;
            values[2] = ShiftMilliseconds();
            values[3] = options.KeyPrefix + "sess:released";
            for (int i = 0; i < count; i++)
            {
                Pending p = due[start + i];
                sessionKeys[i] = p.Key;
                int at = 4 + (i * 6);
                values[at] = (int)p.Mode;
                values[at + 1] = p.NodeId ?? string.Empty;
                values[at + 2] = p.Since;
                values[at + 3] = p.Requests;
                values[at + 4] = p.Used;
                values[at + 5] = p.NearKey;
            }

            long sent = Stopwatch.GetTimestamp();
            RedisResult[] answer;
            try
            {
                answer = (RedisResult[])(await link.Bounded(link.Database.ScriptEvaluateAsync(RedisScripts.WriteBackSessions, sessionKeys, values)).ConfigureAwait(false))!;
            }
            catch (Exception e) when (RedisLink.IsOutage(e))
            {
                // The leases end with the outage (their epoch); what was not written is this outage's loss.
                link.Fail(e);
                return;
            }

            for (int i = 0; i < count; i++)
            {
                Pending p = due[start + i];
                if (p.Lease is not { } lease || p.Mode != WriteBackMode.Renew)
                {
                    continue;
                }

                int renewal = (int)answer[i + 1];
                lock (lease)
                {
                    if (renewal == 1 && !lease.Released)
                    {
                        lease.UsableUntil = sent + UsableTicks;
                        continue;
                    }

                    if (renewal != 3 || lease.Released)
                    {
                        // (3 on a lease released meanwhile: that release hands it over; a release without
                        // state sent now could clear a newer grant of this instance.)
                        // The lease was lost (an outage, the session deleted): nothing here may be written.
                        lease.Released = true;
                        _leases.TryRemove(new KeyValuePair<string, SessionLease>(lease.NearKey, lease));
                        continue;
                    }
                }

                // Another instance asked for it (want) and the message did not reach us: hand it over
                // with what was served here while the renewal was on its way, not the renewal's snapshot.
                (wanted ??= []).Add(Take(lease, WriteBackMode.Release));
            }
        }

        if (wanted is not null)
        {
            await WriteBackAsync(wanted).ConfigureAwait(false);
        }
    }

    private static string NearKey(string packageId, ReadOnlySpan<byte> sessionId)
    {
        Span<char> key = stackalloc char[MaxKeyLength];
        return new string(key[..WriteKey(packageId, sessionId, key)]);
    }

    private static int WriteKey(string packageId, ReadOnlySpan<byte> sessionId, Span<char> key)
    {
        int length = Math.Min(packageId.Length, MaxKeyLength - 1);
        packageId.AsSpan(0, length).CopyTo(key);
        key[length++] = Separator;
        int idLength = Math.Min(sessionId.Length, MaxKeyLength - length);
        for (int i = 0; i < idLength; i++)
        {
            key[length++] = (char)sessionId[i];
        }

        return length;
    }

    private enum WriteBackMode
    {
        Release = 0,
        Renew = 1,
        ReleaseWithoutState = 2,
    }

    /// <param name="Released">Set when this write-back releases a lease: completed once Redis answered it (or the outage came).</param>
    private readonly record struct Pending(SessionLease? Lease, RedisKey Key, string NearKey, WriteBackMode Mode, string? NodeId, long Since, int Requests, long Used, TaskCompletionSource? Released = null);
}
