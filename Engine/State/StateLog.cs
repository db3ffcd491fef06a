using Microsoft.Extensions.Logging;

namespace Engine.State;

/// <summary>Log lines of the shared state store: one per transition, never one per request.</summary>
internal static partial class StateLog
{
    [LoggerMessage(100, LogLevel.Warning, "Redis state store unreachable ({Reason}); serving sessions, rate limits and counters from local state until it is back")]
    public static partial void Degraded(ILogger logger, string reason);

    [LoggerMessage(101, LogLevel.Information, "Redis state store is back after {Outage}; {Bytes} bytes counted meanwhile were flushed; sessions and rate limits are shared again")]
    public static partial void Recovered(ILogger logger, TimeSpan outage, long bytes);
}
