using Engine.Tests.Fixtures;
using Engine.Transport;

namespace Engine.Tests.Transport;

public class DeadlineTests
{
    // Counts how often the deadline moves its timer: the point of the type is that a phase ending
    // in time, or re-armed for later, does not.
    private sealed class CountingTime : TimeProvider
    {
        public readonly ManualTimeProvider Clock = new();
        public int Changes;

        public override long TimestampFrequency => Clock.TimestampFrequency;

        public override long GetTimestamp() => Clock.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            new Counted(this, Clock.CreateTimer(callback, state, dueTime, period));

        private sealed class Counted(CountingTime owner, ITimer inner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                Interlocked.Increment(ref owner.Changes);
                return inner.Change(dueTime, period);
            }

            public void Dispose() => inner.Dispose();

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    [Fact]
    public void Arm_PhaseRunsPastItsTimeout_TokenIsCancelledThenAndNotBefore()
    {
        var time = new ManualTimeProvider();
        using var deadline = new Deadline(time);

        CancellationToken token = deadline.Arm(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(token.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(token.IsCancellationRequested);
    }

    [Fact]
    public void Clear_BeforeTheEnd_NothingIsCancelledAndTheNextPhaseStartsAfresh()
    {
        var time = new ManualTimeProvider();
        using var deadline = new Deadline(time);

        CancellationToken first = deadline.Arm(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(5));
        deadline.Clear();
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.False(first.IsCancellationRequested);

        // The next phase counts from its own start, not the first one's.
        CancellationToken second = deadline.Arm(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(second.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(second.IsCancellationRequested);
    }

    [Fact]
    public void Arm_AfterAPhaseTimedOut_GivesATokenThatIsNotCancelled()
    {
        var time = new ManualTimeProvider();
        using var deadline = new Deadline(time);

        CancellationToken timedOut = deadline.Arm(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(timedOut.IsCancellationRequested);

        CancellationToken next = deadline.Arm(TimeSpan.FromSeconds(1));
        Assert.False(next.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.False(next.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.True(next.IsCancellationRequested);

        // Cleared after the firing (the phase's read came back at the same moment): the same.
        deadline.Clear();
        CancellationToken after = deadline.Arm(TimeSpan.FromSeconds(1));
        Assert.False(after.IsCancellationRequested);
    }

    [Fact]
    public void Arm_ShorterPhaseAfterALongerOne_EndsOnItsOwnTime()
    {
        // The keep-alive idle wait (minutes) is followed by a request head (seconds): the timer,
        // set for the idle wait's end, must come forward.
        var time = new ManualTimeProvider();
        using var deadline = new Deadline(time);

        deadline.Arm(TimeSpan.FromMinutes(2));
        time.Advance(TimeSpan.FromSeconds(1));
        CancellationToken head = deadline.Arm(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(head.IsCancellationRequested);
    }

    [Fact]
    public void Arm_ReArmedForLaterWhileTheTimerWasSetEarlier_FiresAtTheNewEnd()
    {
        var time = new ManualTimeProvider();
        using var deadline = new Deadline(time);

        deadline.Arm(TimeSpan.FromSeconds(10));           // timer set for t = 10
        time.Advance(TimeSpan.FromSeconds(5));
        CancellationToken token = deadline.Arm(TimeSpan.FromSeconds(10));   // now ends at t = 15
        time.Advance(TimeSpan.FromSeconds(5));            // t = 10: the timer fires for a phase that runs on
        Assert.False(token.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(token.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(0.1));          // t = 15
        Assert.True(token.IsCancellationRequested);
    }

    [Fact]
    public void KeepAlivePhases_EndingInTime_MoveTheTimerOncePerTimeoutNotPerPhase()
    {
        // 10,000 requests a millisecond apart, each armed and cleared three times (idle wait, head,
        // response head), as a busy keep-alive connection does: 30,000 phases over 10 s of a 10 s
        // timeout. A cancellation source re-armed per phase moved its timer 60,000 times.
        var time = new CountingTime();
        using var deadline = new Deadline(time);
        CancellationToken token = default;
        for (int i = 0; i < 10_000; i++)
        {
            for (int phase = 0; phase < 3; phase++)
            {
                token = deadline.Arm(TimeSpan.FromSeconds(10));
                deadline.Clear();
            }

            time.Clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.False(token.IsCancellationRequested);
        Assert.InRange(time.Changes, 1, 4);

        // And a phase that overruns still ends on time.
        CancellationToken last = deadline.Arm(TimeSpan.FromSeconds(10));
        time.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(last.IsCancellationRequested);
    }

    [Fact]
    public void Arm_LargestTimeSpan_DoesNotOverflowIntoThePast()
    {
        var time = new ManualTimeProvider();
        using var deadline = new Deadline(time);

        CancellationToken token = deadline.Arm(TimeSpan.MaxValue);
        time.Advance(TimeSpan.FromDays(3650));
        Assert.False(token.IsCancellationRequested);

        // On the runtime's clock too: its timers refuse waits past ~49 days.
        using var system = new Deadline(TimeProvider.System);
        Assert.False(system.Arm(TimeSpan.FromDays(365)).IsCancellationRequested);
    }

    [Fact]
    public void Arm_Infinite_IsNeverCancelled()
    {
        var time = new ManualTimeProvider();
        using var deadline = new Deadline(time);

        deadline.Arm(TimeSpan.FromSeconds(1));
        CancellationToken token = deadline.Arm(Timeout.InfiniteTimeSpan);
        time.Advance(TimeSpan.FromDays(1));
        Assert.False(token.IsCancellationRequested);
    }
}
