namespace Engine.State;

/// <summary>How a <see cref="RedisStateStore"/> talks to Redis (built from <c>State:Redis</c>; tests shorten the intervals).</summary>
internal sealed class RedisStateOptions
{
    /// <summary>StackExchange.Redis configuration string (<c>host:port[,options]</c>).</summary>
    public required string Configuration { get; init; }

    /// <summary>Prefix of every key (one Redis may serve several fleets, or tests, side by side).</summary>
    public string KeyPrefix { get; init; } = "engine:";

    /// <summary>
    /// Connect, sync and async timeout, and the hard bound on any one Redis call: a request never
    /// waits longer than this on Redis before it is served from local state.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often buffered traffic is flushed and the shared totals read back.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long an instance holds a session it serves from its near cache before renewing the lease
    /// in Redis (docs/scale-out.md "Near cache"). It bounds how long a session waits when its holder
    /// dies without releasing it; a live holder hands it over within a round trip or two. Zero turns
    /// the near cache off (every sticky request goes to Redis: the before-figure of LoadTests sticky).
    /// </summary>
    public TimeSpan SessionLease { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a degraded store PINGs Redis to find out it is back.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(250);
}
