using System.Runtime.CompilerServices;
using Engine.Transport;

namespace Engine.Tests.Transport;

public class PooledValueTaskBuilderTests
{
    [Fact]
    public async Task CompletesSynchronously_ResultWithoutABox()
    {
        ValueTask<int> task = AddAsync(2, 3, gate: null);
        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal(5, await task);
    }

    [Fact]
    public async Task CompletesAfterSuspending_ReturnsTheResult()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask<int> task = AddAsync(20, 22, gate.Task);
        Assert.False(task.IsCompleted);
        gate.SetResult();
        Assert.Equal(42, await task);
    }

    [Fact]
    public async Task Throws_SynchronouslyAndAfterSuspending_ExceptionReachesTheAwaiter()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await ThrowAsync(gate: null));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask<int> pending = ThrowAsync(gate.Task);
        gate.SetResult();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pending);
    }

    [Fact]
    public async Task ManyInFlightAtOnce_EachGetsItsOwnResult_AcrossRecycledBoxes()
    {
        // More suspended at once than any per-thread cache holds, three rounds so boxes come back
        // from the pool with another invocation's state machine.
        for (int round = 0; round < 3; round++)
        {
            var gates = Enumerable.Range(0, 500).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
            var tasks = gates.Select((g, i) => AddAsync(i, round * 1000, g.Task).AsTask()).ToArray();
            foreach (TaskCompletionSource gate in gates.Reverse())
            {
                gate.SetResult();
            }

            int[] results = await Task.WhenAll(tasks);
            Assert.Equal(Enumerable.Range(0, 500).Select(i => i + (round * 1000)), results);
        }
    }

    [Fact]
    public async Task NestedPooledMethods_ResumeInOrder()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask<int> outer = OuterAsync(gate.Task);
        gate.SetResult();
        Assert.Equal(11, await outer);
    }

    private static readonly AsyncLocal<string?> Flowing = new();

    [Fact]
    public async Task AsyncLocal_FlowsAcrossTheAwait()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Flowing.Value = "request-7";
        ValueTask<string?> read = ReadFlowingAsync(gate.Task);
        Flowing.Value = null;
        gate.SetResult();
        Assert.Equal("request-7", await read);
    }

    [Fact]
    public async Task DefaultContext_ResumedOnAThreadWithAmbientValues_SeesNoneAndLeavesTheResumersOwn()
    {
        // Resumed inline by a thread that carries an ambient value of its own: the method sees the
        // default context's nothing, and the resumer gets its own value back, not what the method set.
        (ValueTask<string?> resumed, string? leftOnResumer) = StartOnFreshThreadAndResumeOnAnother(resumersOwn: "resumer's");

        Assert.True(resumed.IsCompletedSuccessfully);   // inline, on the resumer
        Assert.Null(await resumed);
        Assert.Equal("resumer's", leftOnResumer);
    }

    [Fact]
    public async Task DefaultContext_ResumedOnADefaultThread_LeavesNothingBehind()
    {
        (ValueTask<string?> resumed, string? leftOnResumer) = StartOnFreshThreadAndResumeOnAnother(resumersOwn: null);

        Assert.True(resumed.IsCompletedSuccessfully);   // inline, on the resumer
        Assert.Null(await resumed);
        Assert.Null(leftOnResumer);                       // the method's "set after resume" did not stay on the thread
    }

    /// <summary>
    /// Starts <see cref="SetAfterResumeAsync"/> on a fresh thread (the default context) and resumes it
    /// inline on a second thread that first sets <paramref name="resumersOwn"/> (null: sets nothing);
    /// returns the method's result and what the resumer's ambient value was afterwards.
    /// </summary>
    private static (ValueTask<string?> Resumed, string? LeftOnResumer) StartOnFreshThreadAndResumeOnAnother(string? resumersOwn)
    {
        var gate = new TaskCompletionSource();   // continuations inline, on the thread that completes it
        ValueTask<string?> resumed = default;
        var starter = new Thread(() => resumed = SetAfterResumeAsync(gate.Task));
        starter.UnsafeStart();
        starter.Join();

        string? leftOnResumer = "unread";
        var resumer = new Thread(() =>
        {
            if (resumersOwn is not null)
            {
                Flowing.Value = resumersOwn;
            }

            gate.SetResult();
            leftOnResumer = Flowing.Value;
        });
        resumer.UnsafeStart();
        resumer.Join();
        return (resumed, leftOnResumer);
    }

    // Nobody reads a detached method's result, so its box must go back when the method ends, also
    // when it throws; read here as the boxes this thread holds for its state machine type (the
    // gates' continuations run inline on this thread, so that is where the boxes come back).
    [Fact]
    public void Detached_BoxGoesBackWhenTheMethodEnds_AndTheNextSuspensionTakesIt()
    {
        var ran = new StrongBox<int>();
        var cached = new List<int>();
        for (int round = 0; round < 3; round++)
        {
            var gate = new TaskCompletionSource();
#pragma warning disable CA2012 // what is under test: a method nobody awaits
            _ = DetachedAsync(gate.Task, ran, fail: round == 2);
#pragma warning restore CA2012
            cached.Add(CachedDetachedBoxes());
            gate.SetResult();
            cached.Add(CachedDetachedBoxes());
        }

        Assert.Equal(3, ran.Value);
        Assert.Equal([0, 1, 0, 1, 0, 1], cached);   // a box never read would stay out: 0 throughout
    }

    private static int CachedDetachedBoxes()
    {
        Type stateMachine = typeof(PooledValueTaskBuilderTests).GetNestedTypes(System.Reflection.BindingFlags.NonPublic)
            .Single(t => t.Name.Contains(nameof(DetachedAsync), StringComparison.Ordinal));
        System.Reflection.FieldInfo field = typeof(PooledBox<,>).MakeGenericType(typeof(bool), stateMachine)
            .GetField("t_cached", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        return (int)field.GetValue(null)!;
    }

    [AsyncMethodBuilder(typeof(PooledDetachedBuilder))]
    private static async ValueTask DetachedAsync(Task gate, StrongBox<int> ran, bool fail)
    {
        await gate;
        ran.Value++;
        if (fail)
        {
            throw new InvalidOperationException("nobody sees this");
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private static async ValueTask<string?> SetAfterResumeAsync(Task gate)
    {
        await gate;
        string? seen = Flowing.Value;
        Flowing.Value = "set after resume";
        return seen;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private static async ValueTask<int> AddAsync(int a, int b, Task? gate)
    {
        if (gate is not null)
        {
            await gate;
        }

        return a + b;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private static async ValueTask<int> ThrowAsync(Task? gate)
    {
        if (gate is not null)
        {
            await gate;
        }

        throw new InvalidOperationException("as asked");
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private static async ValueTask<int> OuterAsync(Task gate)
    {
        int inner = await AddAsync(5, 5, gate);
        return inner + 1;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private static async ValueTask<string?> ReadFlowingAsync(Task gate)
    {
        await gate;
        return Flowing.Value;
    }
}
