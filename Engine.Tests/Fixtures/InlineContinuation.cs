using System.Runtime.CompilerServices;

namespace Engine.Tests.Fixtures;

/// <summary>
/// Code run inline where a socket operation completes: for a wait that parked on the engine's
/// loop, on the loop's thread, in the batch's second phase. The transport tests use it to act (or
/// hold) inside a loop's batch.
/// </summary>
internal static class InlineContinuation
{
    /// <summary>
    /// Runs <paramref name="then"/> with the result where <paramref name="operation"/> completes; an
    /// operation that failed (aborted by a close) goes to <paramref name="failed"/>, never thrown on
    /// the loop's thread; without one it is dropped.
    /// </summary>
    public static void WhenDone(ValueTask<int> operation, Action<int> then, Action<Exception>? failed = null)
    {
        ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter awaiter = operation.ConfigureAwait(false).GetAwaiter();
        awaiter.UnsafeOnCompleted(() =>
        {
            int result;
            try
            {
                result = awaiter.GetResult();
            }
            catch (Exception e)
            {
                failed?.Invoke(e);
                return;
            }

            then(result);
        });
    }
}
