using Microsoft.Extensions.Logging;

namespace Engine.Connection;

/// <summary>What the data path itself logs (everything else about a request is its access-log line).</summary>
internal static partial class ConnectionLog
{
    [LoggerMessage(100, LogLevel.Error, "INTERNAL_ERROR on request {CorrelationId}: an unexpected fault; the connection is closed")]
    public static partial void InternalError(ILogger logger, string correlationId, Exception exception);
}
