using Microsoft.Extensions.Logging;

namespace Engine.State;

/// <summary>Builds the configured <c>State:Store</c>.</summary>
internal static class StateStoreFactory
{
    public static IStateStore Create(StateOptions options, TimeProvider time, ILogger logger) => options.Store switch
    {
        StateStore.Redis => new RedisStateStore(
            new RedisStateOptions { Configuration = options.Redis ?? throw new ArgumentException("State:Redis is required when State:Store is redis.", nameof(options)) },
            time,
            logger),
        _ => new MemoryStateStore(time),
    };
}
