using Engine.Hosting;
using Microsoft.Extensions.Logging;

namespace Engine.State;

/// <summary>Builds the configured <c>State:Store</c>.</summary>
internal static class StateStoreFactory
{
    public static IStateStore Create(StateOptions options, TimeProvider time, ILogger logger)
    {
        _ = logger;
        return options.Store switch
        {
            _ => new MemoryStateStore(time),
        };
    }
}
