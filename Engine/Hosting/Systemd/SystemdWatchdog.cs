using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting.Systemd;

/// <summary>
/// Sends WATCHDOG=1 when the unit sets WatchdogSec= (systemd passes WATCHDOG_USEC), at half the
/// interval as sd_watchdog_enabled(3) recommends, and only while every listener's accept loop runs:
/// a daemon whose process is alive but takes no connections is exactly what the watchdog exists
/// to restart. READY and STOPPING come from <see cref="ProxyHostedService"/>.
/// </summary>
internal sealed class SystemdWatchdog : BackgroundService
{
    private readonly ISystemdNotifier _notifier;
    private readonly Func<bool> _isAccepting;
    private readonly ILogger _logger;
    private bool _withheld;

    public SystemdWatchdog(ISystemdNotifier notifier, ProxyHostedService proxy, ILogger<SystemdWatchdog> logger)
        : this(notifier, () => proxy.IsAccepting, logger)
    {
    }

    internal SystemdWatchdog(ISystemdNotifier notifier, Func<bool> isAccepting, ILogger logger)
    {
        _notifier = notifier;
        _isAccepting = isAccepting;
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

    /// <summary>One tick: WATCHDOG=1 when the listeners accept; true when it was sent.</summary>
    internal bool Beat()
    {
        if (!_isAccepting())
        {
            if (!_withheld)
            {
                _withheld = true;
                SystemdLog.WatchdogWithheld(_logger);
            }

            return false;
        }

        _withheld = false;
        _notifier.Notify(new ServiceState("WATCHDOG=1"));
        return true;
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
                Beat();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
