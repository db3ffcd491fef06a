namespace Engine.State;

/// <summary>
/// The Lua scripts of <see cref="RedisStateStore"/>. Each runs atomically in Redis, so instances
/// never interleave inside one; StackExchange.Redis sends them by SHA (EVALSHA) once Redis knows
/// them and re-sends the source when a restarted Redis answers NOSCRIPT. Time comes from Redis's
/// <c>TIME</c>, never from the caller, so instances with skewed clocks agree. Numbers stay below
/// 2^53 and are kept in milliseconds: Lua's doubles print with 14 significant digits, enough for
/// epoch milliseconds, not for microseconds.
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// KEYS[1] bucket; ARGV[1] rate per second. Returns {1, 0} admitted or {0, retry-after seconds}.
    /// Same arithmetic as <see cref="TokenBucket"/>: capacity = rate, millitokens, and since a
    /// millisecond refills exactly <c>rate</c> millitokens no fraction is ever lost. A missing key is
    /// a full bucket, so the key may expire once a full refill (1 s) has passed unused.
    /// </summary>
    public const string TakeToken = """
        local rate = tonumber(ARGV[1])
        local cap = rate * 1000
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local b = redis.call('HMGET', KEYS[1], 't', 'at')
        local tokens = tonumber(b[1])
        local at = tonumber(b[2])
        if tokens == nil or at == nil then
          tokens = cap
          at = now
        else
          if tokens > cap then tokens = cap end
          if now > at then
            tokens = math.min(cap, tokens + (now - at) * rate)
            at = now
          end
        end
        local allowed = 0
        local retry = 0
        if tokens >= 1000 then
          tokens = tokens - 1000
          allowed = 1
        else
          retry = math.max(1, math.ceil((1000 - tokens) / rate / 1000))
        end
        redis.call('HSET', KEYS[1], 't', tokens, 'at', at)
        redis.call('PEXPIRE', KEYS[1], 2000)
        return {allowed, retry}
        """;

    /// <summary>
    /// KEYS = traffic keys, the credit key, then this instance's flush-number key; ARGV = the bytes to
    /// add to each counter (0: read only), then the flush's number. Returns every counter's total, in
    /// KEYS order. One script, so a flush is all or nothing; and a flush whose number Redis has already
    /// applied adds nothing (its answer was late or lost and it is sent again: the bytes count once).
    /// </summary>
    public const string Flush = """
        local n = #KEYS - 1
        local number = tonumber(ARGV[n + 1])
        local applied = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
        local fresh = number > applied
        if fresh then redis.call('SET', KEYS[n + 1], number, 'EX', 604800) end
        local out = {}
        for i = 1, n do
          local add = tonumber(ARGV[i])
          if fresh and add > 0 then
            out[i] = redis.call('INCRBY', KEYS[i], add)
          else
            out[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
          end
        end
        return out
        """;

    /// <summary>
    /// KEYS[1] session; ARGV fingerprint, length s, idle s, rotate s, rotate requests, clock shift ms,
    /// create (1, or 0: report {3} absent instead of creating), this instance's id, lease ms (0: take none).
    /// Returns {0} created, {2} mismatch, {3} absent, {4, owner, ms left} leased by another instance
    /// (and marks the session wanted, so the owner releases it at its next renewal), or
    /// {1, node, rotate, leased, since, reqs, created, now, len, idle, rs, rr} resumed (node '' = none
    /// bound yet; rotate 1 = a rotate rule fired and node is the one to move away from; leased 1 =
    /// this instance now holds the session's lease and may serve it locally, from the fields that follow).
    /// Mirrors MemorySessionStore: length from creation, idle from last use, rotation by time since
    /// the node was bound or by requests on it, mismatch only against a live session, and an expired
    /// session starts fresh with the new request's rules. The key's TTL is what is left of the
    /// session (length or idle, whichever ends first; while leased the idle part lasts at least the
    /// lease, since the holder's uses are written back later), so Redis drops it when it is over.
    /// A lease is granted only to the instance that also opened the session last (<c>last</c>): a
    /// session whose requests alternate between instances stays in Redis and never waits for a handoff.
    /// </summary>
    public const string OpenSession = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[6])
        local me = ARGV[8]
        local lease = tonumber(ARGV[9])
        local s = redis.call('HMGET', KEYS[1], 'fp', 'node', 'since', 'reqs', 'created', 'used', 'len', 'idle', 'rs', 'rr', 'own', 'lx', 'last')
        local function ttl(created, len, idle)
          local left = created + len * 1000 - now
          if idle > 0 and idle * 1000 < left then left = idle * 1000 end
          if left < 1 then left = 1 end
          return left
        end
        if s[1] then
          if s[11] and s[11] ~= me and tonumber(s[12]) > now then
            redis.call('HSET', KEYS[1], 'want', 1)
            return {4, s[11], tonumber(s[12]) - now}
          end
          local created = tonumber(s[5])
          local used = tonumber(s[6])
          local len = tonumber(s[7])
          local idle = tonumber(s[8])
          local expired = now - created >= len * 1000 or (idle > 0 and now - used >= idle * 1000)
          if not expired then
            if s[1] ~= ARGV[1] then return {2} end
            local leased = 0
            local left = ttl(created, len, idle)
            if lease > 0 and (s[13] == me or s[11] == me) then
              leased = 1
              redis.call('HSET', KEYS[1], 'used', now, 'last', me, 'own', me, 'lx', now + lease)
              redis.call('HDEL', KEYS[1], 'want')
              -- The holder's later uses are not here yet: the idle part of the TTL outlasts the lease.
              if idle > 0 and left < lease + 1000 then left = math.min(lease + 1000, created + len * 1000 - now) end
            else
              redis.call('HSET', KEYS[1], 'used', now, 'last', me)
              redis.call('HDEL', KEYS[1], 'own', 'lx', 'want')
            end
            redis.call('PEXPIRE', KEYS[1], left)
            local node = s[2]
            local rotate = 0
            local rs = tonumber(s[9])
            local rr = tonumber(s[10])
            if node and ((rs > 0 and now - tonumber(s[3]) >= rs * 1000) or (rr > 0 and tonumber(s[4]) >= rr)) then
              rotate = 1
            end
            return {1, node or '', rotate, leased, tonumber(s[3]), tonumber(s[4]), created, now, len, idle, rs, rr}
          end
          redis.call('DEL', KEYS[1])
        end
        if ARGV[7] == '0' then return {3} end
        local len = tonumber(ARGV[2])
        local idle = tonumber(ARGV[3])
        redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'since', now, 'reqs', 0, 'created', now, 'used', now,
          'len', len, 'idle', idle, 'rs', tonumber(ARGV[4]), 'rr', tonumber(ARGV[5]), 'last', me)
        redis.call('PEXPIRE', KEYS[1], ttl(now, len, idle))
        return {0}
        """;

    /// <summary>
    /// KEYS[1] session; ARGV expected node ('' = none), node, clock shift ms, this instance's id.
    /// Compare-and-set of the session's node (the first rebinding wins), then counts the request when
    /// it went through the bound node. A session that is gone stays gone. Returns {1} done, {0} no
    /// session, {4, owner, ms left} leased by another instance (marked wanted; nothing changed).
    /// </summary>
    public const string CommitSession = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
        local s = redis.call('HMGET', KEYS[1], 'fp', 'node', 'own', 'lx')
        if not s[1] then return {0} end
        if s[3] and s[3] ~= ARGV[4] and tonumber(s[4]) > now then
          redis.call('HSET', KEYS[1], 'want', 1)
          return {4, s[3], tonumber(s[4]) - now}
        end
        local node = s[2] or ''
        if node == ARGV[1] and node ~= ARGV[2] then
          redis.call('HSET', KEYS[1], 'node', ARGV[2], 'since', now, 'reqs', 0)
          node = ARGV[2]
        end
        if node == ARGV[2] then redis.call('HINCRBY', KEYS[1], 'reqs', 1) end
        return {1}
        """;

    /// <summary>
    /// KEYS[1] session; ARGV fingerprint, length s, idle s, rotate s, rotate requests, clock shift ms,
    /// expected node ('' = none), node, this instance's id. CommitSession on a live session with the
    /// same fingerprint ({1}), {0} when a live one has other rules, {4, owner, ms left} when another
    /// instance holds its lease; with no live session, creates it bound to node with one request
    /// counted ({1}). Mirrors MemorySessionStore.BindAsync.
    /// </summary>
    public const string BindSession = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[6])
        local s = redis.call('HMGET', KEYS[1], 'fp', 'node', 'created', 'used', 'len', 'idle', 'own', 'lx')
        if s[1] then
          if s[7] and s[7] ~= ARGV[9] and tonumber(s[8]) > now then
            redis.call('HSET', KEYS[1], 'want', 1)
            return {4, s[7], tonumber(s[8]) - now}
          end
          local created = tonumber(s[3])
          local used = tonumber(s[4])
          local len = tonumber(s[5])
          local idle = tonumber(s[6])
          local expired = now - created >= len * 1000 or (idle > 0 and now - used >= idle * 1000)
          if not expired then
            if s[1] ~= ARGV[1] then return {0} end
            local node = s[2] or ''
            if node == ARGV[7] and node ~= ARGV[8] then
              redis.call('HSET', KEYS[1], 'node', ARGV[8], 'since', now, 'reqs', 0)
              node = ARGV[8]
            end
            if node == ARGV[8] then redis.call('HINCRBY', KEYS[1], 'reqs', 1) end
            return {1}
          end
          redis.call('DEL', KEYS[1])
        end
        local len = tonumber(ARGV[2])
        local idle = tonumber(ARGV[3])
        redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'node', ARGV[8], 'since', now, 'reqs', 1, 'created', now, 'used', now,
          'len', len, 'idle', idle, 'rs', tonumber(ARGV[4]), 'rr', tonumber(ARGV[5]), 'last', ARGV[9])
        local left = len * 1000
        if idle > 0 and idle * 1000 < left then left = idle * 1000 end
        redis.call('PEXPIRE', KEYS[1], left)
        return {1}
        """;

    /// <summary>
    /// The lease holder's write-back, for many sessions in one call. KEYS = sessions; ARGV this
    /// instance's id, lease ms, clock shift ms, the released channel, then six values per key: mode
    /// (1 renew, 0 release, 2 release without state: the holder kept none), node ('' = none), since,
    /// reqs, used (ms, Redis's clock), near-cache key. Only a session this instance still holds is
    /// touched: its state is written; a renewal extends the lease unless another instance asked for
    /// the session (<c>want</c>): then it changes nothing more and answers 3, and the holder, which
    /// went on serving the session while the renewal was under way, stops and releases it with its
    /// latest state. A release clears the lease, sets the TTL from the real last use and publishes the
    /// near-cache key on the released channel. Returns {now, r1, r2, ...}: 1 renewed, 2 released,
    /// 3 wanted (not renewed: release it), 0 not held (lease lost or session gone).
    /// </summary>
    public const string WriteBackSessions = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
        local me = ARGV[1]
        local lease = tonumber(ARGV[2])
        local out = {now}
        for i, key in ipairs(KEYS) do
          local b = 4 + (i - 1) * 6
          local mode = ARGV[b + 1]
          local s = redis.call('HMGET', key, 'own', 'used', 'created', 'len', 'idle', 'want')
          if s[1] ~= me then
            out[i + 1] = 0
          else
            local used = tonumber(s[2])
            if mode ~= '2' then
              if tonumber(ARGV[b + 5]) > used then used = tonumber(ARGV[b + 5]) end
              if ARGV[b + 2] == '' then
                redis.call('HDEL', key, 'node')
              else
                redis.call('HSET', key, 'node', ARGV[b + 2])
              end
              redis.call('HSET', key, 'since', ARGV[b + 3], 'reqs', ARGV[b + 4], 'used', used)
            end
            local len = tonumber(s[4])
            local idle = tonumber(s[5])
            local left = tonumber(s[3]) + len * 1000 - now
            if idle > 0 and used + idle * 1000 - now < left then left = used + idle * 1000 - now end
            if mode == '1' and s[6] then
              out[i + 1] = 3
            elseif mode == '1' then
              redis.call('HSET', key, 'lx', now + lease)
              if idle > 0 and left < lease + 1000 then left = math.min(lease + 1000, tonumber(s[3]) + len * 1000 - now) end
              if left < 1 then left = 1 end
              redis.call('PEXPIRE', key, left)
              out[i + 1] = 1
            else
              redis.call('HDEL', key, 'own', 'lx', 'want')
              if left < 1 then
                redis.call('DEL', key)
              else
                redis.call('PEXPIRE', key, left)
              end
              redis.call('PUBLISH', ARGV[4], ARGV[b + 6])
              out[i + 1] = 2
            end
          end
        end
        return out
        """;

    /// <summary>
    /// KEYS[1] session; ARGV clock shift ms, this instance's id. Returns {} when there is no live
    /// session, {4, owner, ms left} when another instance holds its lease (marked wanted: its state
    /// here is behind), else {node ('' = none yet), requests on node, age ms, ms left, len s, idle s,
    /// rotate s, rotate requests}. Read-only otherwise: looking at a session does not count as using it.
    /// </summary>
    public const string GetSession = """
        local s = redis.call('HMGET', KEYS[1], 'node', 'reqs', 'created', 'used', 'len', 'idle', 'rs', 'rr', 'own', 'lx')
        if not s[3] then return {} end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
        if s[9] and s[9] ~= ARGV[2] and tonumber(s[10]) > now then
          redis.call('HSET', KEYS[1], 'want', 1)
          return {4, s[9], tonumber(s[10]) - now}
        end
        local created = tonumber(s[3])
        local used = tonumber(s[4])
        local len = tonumber(s[5])
        local idle = tonumber(s[6])
        local left = created + len * 1000 - now
        if idle > 0 and used + idle * 1000 - now < left then left = used + idle * 1000 - now end
        if left <= 0 then return {} end
        return {s[1] or '', tonumber(s[2]), now - created, left, len, idle, tonumber(s[7]), tonumber(s[8])}
        """;

    /// <summary>
    /// KEYS[1] session; ARGV clock shift ms, this instance's id. Deletes the session: {1} when it was
    /// live, {0} when absent or already over, {4, owner, ms left} (nothing deleted) when another
    /// instance holds its lease: that one writes back and releases first.
    /// </summary>
    public const string DeleteSession = """
        local s = redis.call('HMGET', KEYS[1], 'created', 'used', 'len', 'idle', 'own', 'lx')
        if not s[1] then return {0} end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
        if s[5] and s[5] ~= ARGV[2] and tonumber(s[6]) > now then
          redis.call('HSET', KEYS[1], 'want', 1)
          return {4, s[5], tonumber(s[6]) - now}
        end
        redis.call('DEL', KEYS[1])
        local idle = tonumber(s[4])
        if now - tonumber(s[1]) >= tonumber(s[3]) * 1000 then return {0} end
        if idle > 0 and now - tonumber(s[2]) >= idle * 1000 then return {0} end
        return {1}
        """;
}
