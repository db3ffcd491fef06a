using System.Net;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting.Systemd;

/// <summary>The daemon's systemd integration lines: socket activation and the watchdog (event ids 70-79).</summary>
internal static partial class SystemdLog
{
    [LoggerMessage(70, LogLevel.Information, "Socket activation: serving on the inherited socket {EndPoint} instead of binding")]
    public static partial void SocketAdopted(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(71, LogLevel.Warning, "Socket activation: inherited socket {EndPoint} matches no configured listener; closed")]
    public static partial void SocketUnused(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(72, LogLevel.Warning, "Socket activation: fd {Fd} ({Name}) is not a listening TCP socket; ignored")]
    public static partial void SocketSkipped(ILogger logger, int fd, string name);

    [LoggerMessage(73, LogLevel.Critical, "systemd watchdog: the listeners stopped accepting; no more WATCHDOG=1, systemd will restart the service")]
    public static partial void WatchdogWithheld(ILogger logger);
}
