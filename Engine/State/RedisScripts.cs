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
    /// KEYS = traffic keys then the credit key; ARGV = the bytes to add to each (0: read only).
    /// Returns every total after the addition, in KEYS order. One script, so a flush is all or nothing.
    /// </summary>
    public const string Flush = """
        local out = {}
        for i, key in ipairs(KEYS) do
          local add = tonumber(ARGV[i])
          if add > 0 then
            out[i] = redis.call('INCRBY', key, add)
          else
            out[i] = tonumber(redis.call('GET', key) or '0')
          end
        end
        return out
        """;

    /// <summary>
    /// KEYS[1] session; ARGV fingerprint, length s, idle s, rotate s, rotate requests, clock shift ms,
    /// create (1, or 0: report {3} absent instead of creating).
    /// Returns {0} created, {2} mismatch, {3} absent, {1, node, rotate} resumed (node '' = none bound yet;
    /// rotate 1 = a rotate rule fired and node is the one to move away from).
    /// Mirrors MemorySessionStore: length from creation, idle from last use, rotation by time since
    /// the node was bound or by requests on it, mismatch only against a live session, and an expired
    /// session starts fresh with the new request's rules. The key's TTL is what is left of the
    /// session (length or idle, whichever ends first), so Redis drops it when it is over.
    /// </summary>
    public const string OpenSession = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[6])
        local s = redis.call('HMGET', KEYS[1], 'fp', 'node', 'since', 'reqs', 'created', 'used', 'len', 'idle', 'rs', 'rr')
        local function ttl(created, len, idle)
          local left = created + len * 1000 - now
          if idle > 0 and idle * 1000 < left then left = idle * 1000 end
          if left < 1 then left = 1 end
          return left
        end
        if s[1] then
          local created = tonumber(s[5])
          local used = tonumber(s[6])
          local len = tonumber(s[7])
          local idle = tonumber(s[8])
          local expired = now - created >= len * 1000 or (idle > 0 and now - used >= idle * 1000)
          if not expired then
            if s[1] ~= ARGV[1] then return {2} end
            redis.call('HSET', KEYS[1], 'used', now)
            redis.call('PEXPIRE', KEYS[1], ttl(created, len, idle))
            local node = s[2]
            if not node then return {1, '', 0} end
            local rs = tonumber(s[9])
            local rr = tonumber(s[10])
            if (rs > 0 and now - tonumber(s[3]) >= rs * 1000) or (rr > 0 and tonumber(s[4]) >= rr) then
              return {1, node, 1}
            end
            return {1, node, 0}
          end
          redis.call('DEL', KEYS[1])
        end
        if ARGV[7] == '0' then return {3} end
        local len = tonumber(ARGV[2])
        local idle = tonumber(ARGV[3])
        redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'since', now, 'reqs', 0, 'created', now, 'used', now,
          'len', len, 'idle', idle, 'rs', tonumber(ARGV[4]), 'rr', tonumber(ARGV[5]))
        redis.call('PEXPIRE', KEYS[1], ttl(now, len, idle))
        return {0}
        """;

    /// <summary>
    /// KEYS[1] session; ARGV expected node ('' = none), node, clock shift ms. Compare-and-set of the
    /// session's node (the first rebinding wins), then counts the request when it went through the
    /// bound node. A session that is gone stays gone.
    /// </summary>
    public const string CommitSession = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
        local node = redis.call('HGET', KEYS[1], 'node') or ''
        if node == ARGV[1] and node ~= ARGV[2] then
          redis.call('HSET', KEYS[1], 'node', ARGV[2], 'since', now, 'reqs', 0)
          node = ARGV[2]
        end
        if node == ARGV[2] then redis.call('HINCRBY', KEYS[1], 'reqs', 1) end
        return 1
        """;

    /// <summary>
    /// KEYS[1] session; ARGV fingerprint, length s, idle s, rotate s, rotate requests, clock shift ms,
    /// expected node ('' = none), node. CommitSession on a live session with the same fingerprint
    /// (1), 0 when a live one has other rules; with no live session, creates it bound to node with
    /// one request counted (1). Mirrors MemorySessionStore.BindAsync.
    /// </summary>
    public const string BindSession = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[6])
        local s = redis.call('HMGET', KEYS[1], 'fp', 'node', 'created', 'used', 'len', 'idle')
        if s[1] then
          local created = tonumber(s[3])
          local used = tonumber(s[4])
          local len = tonumber(s[5])
          local idle = tonumber(s[6])
          local expired = now - created >= len * 1000 or (idle > 0 and now - used >= idle * 1000)
          if not expired then
            if s[1] ~= ARGV[1] then return 0 end
            local node = s[2] or ''
            if node == ARGV[7] and node ~= ARGV[8] then
              redis.call('HSET', KEYS[1], 'node', ARGV[8], 'since', now, 'reqs', 0)
              node = ARGV[8]
            end
            if node == ARGV[8] then redis.call('HINCRBY', KEYS[1], 'reqs', 1) end
            return 1
          end
          redis.call('DEL', KEYS[1])
        end
        local len = tonumber(ARGV[2])
        local idle = tonumber(ARGV[3])
        redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'node', ARGV[8], 'since', now, 'reqs', 1, 'created', now, 'used', now,
          'len', len, 'idle', idle, 'rs', tonumber(ARGV[4]), 'rr', tonumber(ARGV[5]))
        local left = len * 1000
        if idle > 0 and idle * 1000 < left then left = idle * 1000 end
        redis.call('PEXPIRE', KEYS[1], left)
        return 1
        """;

    /// <summary>
    /// KEYS[1] session; ARGV clock shift ms. Returns {} when there is no live session, else
    /// {node ('' = none yet), requests on node, age ms, ms left, len s, idle s, rotate s, rotate requests}.
    /// Read-only: looking at a session does not count as using it (its idle time keeps running).
    /// </summary>
    public const string GetSession = """
        local s = redis.call('HMGET', KEYS[1], 'node', 'reqs', 'created', 'used', 'len', 'idle', 'rs', 'rr')
        if not s[3] then return {} end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
        local created = tonumber(s[3])
        local used = tonumber(s[4])
        local len = tonumber(s[5])
        local idle = tonumber(s[6])
        local left = created + len * 1000 - now
        if idle > 0 and used + idle * 1000 - now < left then left = used + idle * 1000 - now end
        if left <= 0 then return {} end
        return {s[1] or '', tonumber(s[2]), now - created, left, len, idle, tonumber(s[7]), tonumber(s[8])}
        """;

    /// <summary>KEYS[1] session; ARGV clock shift ms. Deletes the session; 1 when it was live, 0 when absent or already over.</summary>
    public const string DeleteSession = """
        local s = redis.call('HMGET', KEYS[1], 'created', 'used', 'len', 'idle')
        if not s[1] then return 0 end
        redis.call('DEL', KEYS[1])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
        local idle = tonumber(s[4])
        if now - tonumber(s[1]) >= tonumber(s[3]) * 1000 then return 0 end
        if idle > 0 and now - tonumber(s[2]) >= idle * 1000 then return 0 end
        return 1
        """;
}
