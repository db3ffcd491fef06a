using System.Net;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting;

/// <summary>The daemon's own log lines (requests go to the access log, not here).</summary>
internal static partial class EngineLog
{
    [LoggerMessage(1, LogLevel.Information, "Listening on http://{EndPoint}")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(2, LogLevel.Information, "Ready. Try: {CurlLine}")]
    public static partial void Ready(ILogger logger, string curlLine);

    [LoggerMessage(3, LogLevel.Information, "Stopping: no new connections; draining open ones for up to {Drain}")]
    public static partial void Draining(ILogger logger, TimeSpan drain);

    [LoggerMessage(4, LogLevel.Information, "Stopped; {Cut} connections were still open at the drain deadline and were cut")]
    public static partial void Stopped(ILogger logger, int cut);

    [LoggerMessage(7, LogLevel.Information, "Warmed up: {Requests} requests, {TlsRequests} over TLS, {Tunnels} CONNECT and {SocksTunnels} SOCKS5 tunnels through a loopback copy of the data path, {Methods} methods compiled, {Milliseconds:F0} ms (compiler settled: {Settled})")]
    public static partial void WarmedUp(ILogger logger, int requests, int tlsRequests, int tunnels, int socksTunnels, long methods, double milliseconds, bool settled);

    [LoggerMessage(8, LogLevel.Warning, "Warm-up incomplete: {Requests} of {ExpectedRequests} requests, {TlsRequests} over TLS, {Tunnels} CONNECT and {SocksTunnels} SOCKS5 tunnels of {ExpectedTunnels} each answered; starting anyway (the first seconds may run slower)")]
    public static partial void WarmUpIncomplete(ILogger logger, int requests, int expectedRequests, int tlsRequests, int tunnels, int socksTunnels, int expectedTunnels);

    [LoggerMessage(9, LogLevel.Warning, "Warm-up failed ({Reason}); starting anyway (the first seconds may run slower)")]
    public static partial void WarmUpFailed(ILogger logger, string reason);

    [LoggerMessage(6, LogLevel.Information, "systemd watchdog enabled: WATCHDOG=1 every {Interval}")]
    public static partial void WatchdogEnabled(ILogger logger, TimeSpan interval);

    [LoggerMessage(20, LogLevel.Information, "Configuration reloaded from {File} ({Reason}): packages, nodes, limits and security in force for new requests")]
    public static partial void Reloaded(ILogger logger, string file, string reason);

    [LoggerMessage(21, LogLevel.Error, "Configuration reload refused: {File} has {Count} problem(s); the running configuration stays")]
    public static partial void ReloadRefused(ILogger logger, string file, int count);

    [LoggerMessage(22, LogLevel.Error, "  {Problem}")]
    public static partial void ReloadProblem(ILogger logger, string problem);

    [LoggerMessage(23, LogLevel.Warning, "Configuration reload: {What} changed, which takes a restart; the running {What} stay")]
    public static partial void ReloadNeedsRestart(ILogger logger, string what);

    [LoggerMessage(24, LogLevel.Warning, "Limits:MaxConnections is {Configured} but the descriptor limit ({Limit}, ulimit -n / LimitNOFILE) carries {Effective} connections at two descriptors each: beyond that, 503 OVERLOADED. Raise LimitNOFILE to serve more")]
    public static partial void ConnectionsCappedByDescriptors(ILogger logger, long configured, ulong limit, long effective);

    [LoggerMessage(30, LogLevel.Information, "Node source {Path}: {Count} nodes loaded ({Problems} lines skipped)")]
    public static partial void NodeSourceLoaded(ILogger logger, string path, int count, int problems);

    [LoggerMessage(31, LogLevel.Warning, "{Path}:{Line}: {Message} (line skipped)")]
    public static partial void NodeSourceProblem(ILogger logger, string path, int line, string message);

    [LoggerMessage(32, LogLevel.Warning, "Node source {Path} is gone; keeping its last good {Count} nodes until it comes back")]
    public static partial void NodeSourceVanished(ILogger logger, string path, int count);

    [LoggerMessage(33, LogLevel.Error, "{Path}:{Line}: {Message}; the file was not loaded, its last good {Count} nodes stay")]
    public static partial void NodeSourceRefused(ILogger logger, string path, int line, string message, int count);

    [LoggerMessage(34, LogLevel.Warning, "Node source {Path}: node id {Id} is already a node of {Other}; the source's node is skipped")]
    public static partial void NodeSourceIdTaken(ILogger logger, string path, string id, string other);

    [LoggerMessage(35, LogLevel.Information, "Pool changed ({Reason}): {Count} nodes")]
    public static partial void PoolChanged(ILogger logger, string reason, int count);

    [LoggerMessage(36, LogLevel.Warning, "Admin audit: {Action} node {Id} from {Client}")]
    public static partial void AdminNodeChanged(ILogger logger, string action, string id, string client);
}
