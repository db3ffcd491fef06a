using Engine.State;
using Engine.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Engine.Tests.State;

/// <summary>
/// One real redis-server for a test class; each store gets its own key prefix, so tests sharing
/// the server never see each other's keys. Without redis-server every test that asks for a store skips.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    internal RedisServer? Server { get; private set; }

    internal string? SkipReason { get; private set; }

    public async Task InitializeAsync()
    {
        try
        {
            Server = await RedisServer.StartAsync();
        }
        catch (SkipException e)
        {
            SkipReason = e.Message;
        }
    }

    /// <summary>A fresh key prefix: the stores of one test share it, other tests do not.</summary>
    internal static string NewPrefix() => $"t{Guid.NewGuid():N}:";

    /// <summary>A store on this server (skips the test when there is none), with short intervals.</summary>
    internal RedisStateStore Store(string prefix, TimeProvider? sessionClock = null)
    {
        Skip.If(SkipReason is not null, SkipReason);
        return Create(Server!, prefix, sessionClock);
    }

    internal static RedisStateStore Create(RedisServer server, string prefix, TimeProvider? sessionClock = null) =>
        new(new RedisStateOptions
        {
            Configuration = server.ConfigurationString,
            KeyPrefix = prefix,
            FlushInterval = TimeSpan.FromMilliseconds(50),
            ProbeInterval = TimeSpan.FromMilliseconds(100),
            SessionClockShift = sessionClock,
        }, TimeProvider.System, NullLogger.Instance);

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}
