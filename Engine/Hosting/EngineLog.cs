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

    [LoggerMessage(4, LogLevel.Information, "Stopped; {Open} connections were still open")]
    public static partial void Stopped(ILogger logger, long open);

    [LoggerMessage(6, LogLevel.Information, "systemd watchdog enabled: WATCHDOG=1 every {Interval}")]
    public static partial void WatchdogEnabled(ILogger logger, TimeSpan interval);

    [LoggerMessage(5, LogLevel.Warning, "Listener {Listener} uses a protocol this build does not serve yet; it is not started")]
    public static partial void ListenerNotServed(ILogger logger, string listener);
}
