using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting;

/// <summary>
/// Sends WATCHDOG=1 when the unit sets WatchdogSec= (systemd passes WATCHDOG_USEC), at half the
/// interval as sd_watchdog_enabled(3) recommends. READY and STOPPING come from SystemdLifetime.
/// </summary>
internal sealed class SystemdWatchdog : BackgroundService
{
    private readonly ISystemdNotifier _notifier;
    private readonly ILogger _logger;

    public SystemdWatchdog(ISystemdNotifier notifier, ILogger<SystemdWatchdog> logger)
    {
        _notifier = notifier;
        _logger = logger;
    }

    internal static TimeSpan? Interval()
    {
        string? usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        string? pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        if (!long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out long microseconds) || microseconds <= 0)
        {
            return null;
        }

        if (pid is not null && pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
        {
            return null;
        }

        return TimeSpan.FromMicroseconds(microseconds / 2.0);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_notifier.IsEnabled || Interval() is not { } interval)
        {
            return;
        }

        EngineLog.WatchdogEnabled(_logger, interval);
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                _notifier.Notify(new ServiceState("WATCHDOG=1"));
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
