using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Engine.Transport;

/// <summary>Flushing a client's output pipe, where a gone client is an answer (false), not an exception.</summary>
internal static class ClientFlush
{
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public static async ValueTask<bool> FlushAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        try
        {
            ValueTask<FlushResult> flush = output.FlushAsync(cancellationToken);
            FlushResult result = flush.IsCompletedSuccessfully ? flush.Result : await flush.ConfigureAwait(false);
            return !result.IsCompleted && !result.IsCanceled;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            return false;
        }
    }
}
