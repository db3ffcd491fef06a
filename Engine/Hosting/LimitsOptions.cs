namespace Engine.Hosting;

/// <summary><c>Engine.Limits</c>. Every default says where it comes from.</summary>
internal sealed class LimitsOptions
{
    /// <summary>
    /// Client connections open at once; above it new ones get 503 OVERLOADED. Kestrel and HAProxy
    /// (maxconn derived from ulimit -n) have no useful fixed default; a ceiling is what turns
    /// EMFILE into a clean answer. 100 000 (the spec's example) needs LimitNOFILE of at least
    /// 2 × that: one client and one upstream socket per connection.
    /// </summary>
    public int MaxConnections { get; init; } = 100_000;

    /// <summary>
    /// Time to receive a whole request head. Kestrel RequestHeadersTimeout is 30 s, nginx
    /// client_header_timeout 60 s, Apache mod_reqtimeout header=20-40; proxy clients are programs,
    /// not people on slow links, so 10 s (the spec's example) sheds slowloris connections sooner.
    /// </summary>
    public TimeSpan RequestHeadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Keep-alive and tunnel idle time. Kestrel KeepAliveTimeout is 130 s, nginx keepalive_timeout
    /// 75 s, HAProxy timeout tunnel is typically 1 h; 2 min is Kestrel's figure rounded down.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Resolve + connect to a target or node. nginx proxy_connect_timeout is 60 s, HAProxy's
    /// documented "timeout connect" example 5 s; 10 s leaves room for a slow residential node.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// From request sent to response head received. nginx proxy_read_timeout is 60 s, HAProxy
    /// "timeout server" examples 30-50 s; 30 s (the spec's example).
    /// </summary>
    public TimeSpan ResponseHeadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Request line + headers. Kestrel MaxRequestHeadersTotalSize is 32 KB (nginx 4 × 8 KB large_client_header_buffers).</summary>
    public int MaxRequestHeadBytes { get; init; } = 32 * 1024;

    /// <summary>Request line alone. Kestrel MaxRequestLineSize is 8 KB; Apache LimitRequestLine 8190; nginx one 8 KB buffer.</summary>
    public int MaxRequestLineBytes { get; init; } = 8 * 1024;

    /// <summary>Header fields per request. Kestrel MaxRequestHeaderCount and Apache LimitRequestFields are both 100.</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>
    /// On SIGTERM, how long open requests and tunnels may finish before they are cut. The .NET host's
    /// ShutdownTimeout is 30 s and systemd's TimeoutStopSec 90 s; 20 s (the spec's example) fits
    /// inside both with room for the final abort.
    /// </summary>
    public TimeSpan ShutdownDrain { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Thread-pool work items waiting above which new requests get 503 OVERLOADED (0 = off).
    /// ASP.NET's requestQueueLimit defaults to 5000: past that, queued work waits seconds on a
    /// small box, and refusing early with Retry-After beats answering late.
    /// </summary>
    public int MaxPendingWork { get; init; } = 5000;

    /// <summary>
    /// How long an event loop may take to reach a new event before new requests get 503 OVERLOADED
    /// (zero = off; <c>Transport/LoopLag</c> measures it). The data path runs on the loops, so this,
    /// not the thread pool's queue, is where a saturated engine shows. 1 s: a loop that far behind
    /// is queueing, not serving; a saturated loop with thousands of connections waiting on their
    /// answers stays in the tens of milliseconds.
    /// </summary>
    public TimeSpan MaxLoopLag { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A refused request's unread body up to this size is skipped and the connection kept, so a
    /// client that sends its first request without credentials (.NET HttpClient does) retries on
    /// it. 1 MiB: a few milliseconds on any link, and Kestrel's MaxRequestBodySize is 30 MB.
    /// </summary>
    public long MaxDrainBytes { get; init; } = 1024 * 1024;

    /// <summary>A larger or unknown body: stop sending, read and discard for up to this long, then close (RFC 9112 §9.6). 2 s: Apache's lingering close (MAX_SECS_TO_LINGER = 2 s after the last read).</summary>
    public TimeSpan LingerTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
