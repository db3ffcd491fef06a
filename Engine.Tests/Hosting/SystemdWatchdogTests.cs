using System.Net;
using System.Net.Sockets;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using Engine.Hosting.Systemd;

namespace Engine.Tests.Hosting;

/// <summary>
/// The sd_notify protocol for real: a unix datagram socket the test owns is the child engine's
/// <c>NOTIFY_SOCKET</c>, with <c>WATCHDOG_USEC</c>/<c>WATCHDOG_PID</c> set as systemd sets them.
/// </summary>
[Collection(Engine.Tests.Connection.SerialCollection.Name)]
public class SystemdWatchdogTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    internal static string WriteConfig(string endpoint)
    {
        string path = Path.Combine(Path.GetTempPath(), $"engine-systemd-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "{{endpoint}}", "Protocol": "http" } ],
                "Limits": { "ShutdownDrain": "00:00:01" },
                "Security": { "AllowPrivateTargets": true },
                "Packages": [ { "Id": "demo", "Key": "demo-key", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "local", "Type": "direct" } ] } }
            """);
        return path;
    }

    [SkippableFact]
    public async Task Run_ChildWithNotifySocketAndWatchdog_SendsReadyThenWatchdogThenStoppingOnSigterm()
    {
        Tools.RequireNot(SystemdChild.UnavailableReason is not null, SystemdChild.UnavailableReason);
        using var notify = new NotifySocket();
        string config = WriteConfig("127.0.0.1:0");
        await using SystemdChild child = SystemdChild.Start(config, new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            // 1 s: the daemon pets every 0.5 s.
            ["WATCHDOG_USEC"] = "1000000",
        });

        List<string> start = await notify.ReceiveUntilAsync("READY=1", Patience);
        Assert.DoesNotContain("WATCHDOG=1", start);
        Assert.Equal("WATCHDOG=1", await notify.ReceiveAsync(Patience));
        Assert.Equal("WATCHDOG=1", await notify.ReceiveAsync(Patience));

        child.Terminate();
        await notify.ReceiveUntilAsync("STOPPING=1", Patience);
        Assert.True(await child.WaitForExitAsync(Patience) == 0, child.Output);
        File.Delete(config);
    }

    [Fact]
    public async Task Beat_AcceptLoopRunning_SendsWatchdog_AndStoppedLoop_WithholdsIt()
    {
        var counter = new ConnectionCounter(10);
        using var listener = new SocketListener(new IPEndPoint(IPAddress.Loopback, 0), 16, counter, _ => ValueTask.CompletedTask, _ => ValueTask.CompletedTask);
        var notifier = new RecordingNotifier();
        var watchdog = new SystemdWatchdog(notifier, () => listener.IsAccepting, NullLogger.Instance);

        Assert.False(watchdog.Beat());   // not started: nothing accepts yet
        listener.Start();
        Assert.True(watchdog.Beat());
        await listener.StopAcceptingAsync();
        Assert.False(watchdog.Beat());
        Assert.False(watchdog.Beat());

        Assert.Equal(["WATCHDOG=1"], notifier.States);
    }

    [Fact]
    public void Interval_WatchdogPidOfAnotherProcess_IsNull()
    {
        Environment.SetEnvironmentVariable("WATCHDOG_USEC", "30000000");
        try
        {
            Environment.SetEnvironmentVariable("WATCHDOG_PID", "1");
            Assert.Null(SystemdWatchdog.Interval());
            Environment.SetEnvironmentVariable("WATCHDOG_PID", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(TimeSpan.FromSeconds(15), SystemdWatchdog.Interval());
        }
        finally
        {
            Environment.SetEnvironmentVariable("WATCHDOG_USEC", null);
            Environment.SetEnvironmentVariable("WATCHDOG_PID", null);
        }
    }
}
