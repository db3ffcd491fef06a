using Microsoft.Extensions.Logging;

namespace Engine.State;

/// <summary>Builds the configured <c>State:Store</c>.</summary>
internal static class StateStoreFactory
{
    public static async Task<IStateStore> CreateAsync(StateOptions options, TimeProvider time, ILogger logger) => options.Store switch
    {
        StateStore.Redis => await RedisStateStore.ConnectAsync(
            new RedisStateOptions { Configuration = options.Redis ?? throw new ArgumentException("State:Redis is required when State:Store is redis.", nameof(options)) },
            time,
            logger).ConfigureAwait(false),
        _ => new MemoryStateStore(time),
    };
}
