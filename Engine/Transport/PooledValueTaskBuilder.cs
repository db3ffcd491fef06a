using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Engine.Transport;

/// <summary>
/// An async method builder for <see cref="ValueTask{TResult}"/> methods on the per-request path
/// whose state machine boxes come from a pool sized for thousands of connections in flight.
/// </summary>
/// <remarks>
/// Every async method that suspends needs a heap box for its state machine. A forwarded GET
/// suspends five frames deep while it waits for the target (request handler, forward, exchange,
/// response relay, socket read), so the standard builders allocate five boxes per request, ~1.5 KB.
/// The runtime's <see cref="PoolingAsyncValueTaskMethodBuilder{TResult}"/> keeps one box per thread
/// and one per core: enough for a benchmark with one connection, useless with 64 connections
/// interleaved on one epoll thread (measured: the same boxes per request with it as without).
/// Here each state machine type has a bounded stack of boxes shared by all threads; a box goes back
/// when its result is read. Rules for users, as for any ValueTask: await the result exactly once
/// (a second read would see a recycled box) — every method marked with this builder is awaited
/// directly by its caller.
/// </remarks>
[StructLayout(LayoutKind.Auto)]
internal struct PooledValueTaskBuilder<TResult>
{
    private PooledBox<TResult>? _box;
    private TResult _result;
    private Exception? _exception;

    public static PooledValueTaskBuilder<TResult> Create() => default;

    public readonly ValueTask<TResult> Task =>
        _box is not null ? new ValueTask<TResult>(_box, _box.Version)
        : _exception is not null ? ValueTask.FromException<TResult>(_exception)
        : new ValueTask<TResult>(_result);

    /// <summary>The same outcome without its result, for <see cref="PooledValueTaskBuilder"/>.</summary>
    internal readonly ValueTask VoidTask =>
        _box is not null ? new ValueTask(_box, _box.Version)
        : _exception is not null ? ValueTask.FromException(_exception)
        : default;

#pragma warning disable CA1822 // the compiler calls Start on the builder instance
    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        // The runtime's Start restores the caller's ExecutionContext and SynchronizationContext
        // after the synchronous part, whatever the method did to them.
        AsyncValueTaskMethodBuilder<TResult> standard = default;
        standard.Start(ref stateMachine);
    }

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
        // Only used by boxes that the runtime's builders allocate; ours box themselves.
    }
#pragma warning restore CA1822

    public void SetResult(TResult result)
    {
        if (_box is null)
        {
            _result = result;   // completed without suspending: no box at all
        }
        else
        {
            _box.SetResult(result);
        }
    }

    public void SetException(Exception exception)
    {
        if (_box is null)
        {
            _exception = exception;
        }
        else
        {
            _box.SetException(exception);
        }
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.OnCompleted(GetBox(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.UnsafeOnCompleted(GetBox(ref stateMachine).MoveNextAction);

    /// <summary>For <see cref="PooledDetachedBuilder"/>: the method ended and nobody will read its result.</summary>
    internal readonly void RecycleUnread() => _box?.RecycleUnread();

    private PooledBox<TResult> GetBox<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        if (_box is PooledBox<TResult, TStateMachine> existing)
        {
            existing.CaptureContext();
            return existing;
        }

        PooledBox<TResult, TStateMachine> box = PooledBox<TResult, TStateMachine>.Rent();
        _box = box;                         // first, so the copy below carries the box along
        box.StateMachine = stateMachine;    // the state machine now lives (and resumes) in the box
        box.CaptureContext();
        return box;
    }
}

/// <summary>
/// <see cref="PooledValueTaskBuilder{TResult}"/> for <see cref="ValueTask"/> methods: a
/// connection's outermost frame (the one the listener awaits) suspends once per connection, and
/// its runtime box was ~140 B of every tunnel.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal struct PooledValueTaskBuilder
{
    private PooledValueTaskBuilder<bool> _inner;

    public static PooledValueTaskBuilder Create() => default;

    public readonly ValueTask Task => _inner.VoidTask;

    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => _inner.Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => _inner.SetStateMachine(stateMachine);

    public void SetResult() => _inner.SetResult(true);

    public void SetException(Exception exception) => _inner.SetException(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => _inner.AwaitOnCompleted(ref awaiter, ref stateMachine);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => _inner.AwaitUnsafeOnCompleted(ref awaiter, ref stateMachine);
}

/// <summary>
/// A pooled builder for a method nobody awaits (the listener's frame per connection, started and
/// left to run): its box goes back to the pool when the method ends instead of when a caller reads
/// the result, since no caller will. Its <see cref="ValueTask"/> is always a completed one; an
/// exception the method lets out ends with it, as it did in the unobserved <see cref="Task"/> of
/// a discarded async Task method (the handler logs its own faults). Made per connection, the
/// runtime's box was ~130 B of every tunnel.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal struct PooledDetachedBuilder
{
    private PooledValueTaskBuilder<bool> _inner;

    public static PooledDetachedBuilder Create() => default;

#pragma warning disable CA1822 // the compiler reads Task from the builder instance
    public readonly ValueTask Task => default;
#pragma warning restore CA1822

    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => _inner.Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => _inner.SetStateMachine(stateMachine);

    // Called from inside the boxed state machine's last step: nothing of it runs after this returns,
    // so the box can go back (and be rented by another thread) at once.
    public void SetResult()
    {
        _inner.SetResult(true);
        _inner.RecycleUnread();
    }

    public void SetException(Exception exception)
    {
        _inner.SetException(exception);
        _inner.RecycleUnread();
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => _inner.AwaitOnCompleted(ref awaiter, ref stateMachine);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => _inner.AwaitUnsafeOnCompleted(ref awaiter, ref stateMachine);
}

/// <summary>The awaitable half of a pooled box: what the caller's ValueTask points at.</summary>
internal abstract class PooledBox<TResult> : IValueTaskSource<TResult>, IValueTaskSource
{
    protected ManualResetValueTaskSourceCore<TResult> _core;

    public short Version => _core.Version;

    /// <summary>Resumes the boxed state machine; made once per box, so an await allocates nothing.</summary>
    public Action MoveNextAction { get; protected init; } = null!;

    public void SetResult(TResult result) => _core.SetResult(result);

    public void SetException(Exception exception) => _core.SetException(exception);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public TResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    /// <summary>Back to the pool without a read: the method's outcome is nobody's (<see cref="PooledDetachedBuilder"/>).</summary>
    public void RecycleUnread() => Recycle();

    protected abstract void Recycle();
}

internal sealed class PooledBox<TResult, TStateMachine> : PooledBox<TResult>
    where TStateMachine : IAsyncStateMachine
{
    // Boxes kept per state machine type: the connections that can be suspended in this method at
    // once on a busy box; beyond it, boxes are left to the GC.
    private const int MaxPooled = 4096;

    private static readonly Lock PoolLock = new();
    private static readonly PooledBox<TResult, TStateMachine>?[] Pool = new PooledBox<TResult, TStateMachine>?[MaxPooled];
    private static int _pooled;

    // A few boxes per thread in front of the shared stack: an event loop thread recycles boxes as
    // its connections resume and rents the same kinds as they suspend again, so in steady state
    // neither takes the lock. One spare per thread was not enough: with 64 connections on a loop,
    // several boxes of a kind come back before the next is rented (lock enter and exit were still
    // 0.7 % of a keep-alive profile with one spare, 1.36 % with none).
    private const int ThreadCached = 32;

    [ThreadStatic]
    private static PooledBox<TResult, TStateMachine>?[]? t_cache;

    [ThreadStatic]
    private static int t_cached;

    private static readonly ContextCallback RunInContext = static box => ((PooledBox<TResult, TStateMachine>)box!).StateMachine.MoveNext();

    public TStateMachine StateMachine = default!;
    private ExecutionContext? _context;

    private PooledBox()
    {
        MoveNextAction = MoveNext;
    }

    public static PooledBox<TResult, TStateMachine> Rent()
    {
        PooledBox<TResult, TStateMachine>?[]? cache = t_cache;
        if (cache is not null && t_cached > 0)
        {
            int last = --t_cached;
            PooledBox<TResult, TStateMachine> cached = cache[last]!;
            cache[last] = null;
            return cached;
        }

        lock (PoolLock)
        {
            if (_pooled > 0)
            {
                PooledBox<TResult, TStateMachine> box = Pool[--_pooled]!;
                Pool[_pooled] = null;
                return box;
            }
        }

        return new PooledBox<TResult, TStateMachine>();
    }

    /// <summary>What flows across the await (AsyncLocal values), as the runtime's builders capture it.</summary>
    public void CaptureContext() => _context = ExecutionContext.Capture();

    private void MoveNext()
    {
        ExecutionContext? context = _context;
        if (context is null)
        {
            StateMachine.MoveNext();   // captured with the flow suppressed: as the runtime's boxes
        }
        else if (ReferenceEquals(context, DefaultContext.Instance) && ReferenceEquals(ExecutionContext.Capture(), context))
        {
            // The default context (no AsyncLocal: the engine's own case) on a thread that has it
            // (an event loop's): nothing to swap in. Run swapped and restored it on every resume
            // (0.85 % of a keep-alive profile). What Run would undo afterwards is undone here too:
            // an AsyncLocal the resumed code set must not stay on the thread for the next
            // connection it resumes (never taken by the engine's code, which sets none).
            StateMachine.MoveNext();
            if (!ReferenceEquals(ExecutionContext.Capture(), context))
            {
                ExecutionContext.Restore(context);
            }
        }
        else
        {
            ExecutionContext.Run(context, RunInContext, this);
        }
    }

    protected override void Recycle()
    {
        StateMachine = default!;   // drop the references the locals held
        _context = null;
        _core.Reset();
        PooledBox<TResult, TStateMachine>?[] cache = t_cache ??= new PooledBox<TResult, TStateMachine>?[ThreadCached];
        if (t_cached < ThreadCached)
        {
            cache[t_cached++] = this;
            return;
        }

        lock (PoolLock)
        {
            if (_pooled < MaxPooled)
            {
                Pool[_pooled++] = this;
            }
        }
    }
}

/// <summary>The runtime's default <see cref="ExecutionContext"/>: what a thread with no AsyncLocal set captures.</summary>
internal static class DefaultContext
{
    public static readonly ExecutionContext? Instance = CaptureOnFreshThread();

    // A new thread started without flowing its starter's context has none of its own; its capture
    // is the process-wide default instance, whatever context the caller of this runs under.
    private static ExecutionContext? CaptureOnFreshThread()
    {
        ExecutionContext? captured = null;
        var thread = new Thread(() => captured = ExecutionContext.Capture());
        thread.UnsafeStart();
        thread.Join();
        return captured;
    }
}
