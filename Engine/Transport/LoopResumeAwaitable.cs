using System.Runtime.CompilerServices;

namespace Engine.Transport;

/// <summary>
/// The awaiter of <see cref="LoopResume.ResumeOnLoop{T}"/>. Completed synchronously it costs
/// nothing beyond the task's own check; awaited off the loops (<paramref name="loop"/> null) it is
/// <c>ConfigureAwait(false)</c>.
/// </summary>
internal readonly struct LoopResumeAwaitable<T>(ValueTask<T> task, EpollLoop? loop) : ICriticalNotifyCompletion
{
    public LoopResumeAwaitable<T> GetAwaiter() => this;

    public bool IsCompleted => task.IsCompleted;

    public T GetResult() => task.GetAwaiter().GetResult();

    public void OnCompleted(Action continuation) =>
        task.ConfigureAwait(false).GetAwaiter().OnCompleted(loop is null ? continuation : new LoopResume.Hop(loop, continuation).Run);

    public void UnsafeOnCompleted(Action continuation) =>
        task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(loop is null ? continuation : new LoopResume.Hop(loop, continuation).Run);
}
