using Engine.Limits;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Limits;

public class OverloadMonitorTests
{
    [Fact]
    public void LoopLag_PastItsCeiling_Sheds_AndRecovers()
    {
        TimeSpan lag = TimeSpan.Zero;
        using var monitor = new OverloadMonitor(0, TimeSpan.FromSeconds(1), new ManualTimeProvider(), loopLag: () => lag);

        monitor.Sample();
        Assert.False(monitor.IsShedding);
        lag = TimeSpan.FromSeconds(1);
        monitor.Sample();
        Assert.False(monitor.IsShedding);   // at the ceiling, not past it
        lag = TimeSpan.FromMilliseconds(1_001);
        monitor.Sample();
        Assert.True(monitor.IsShedding);
        lag = TimeSpan.FromMilliseconds(20);
        monitor.Sample();
        Assert.False(monitor.IsShedding);
    }

    [Fact]
    public void EitherMeasure_Sheds_AndACeilingOfZero_IsOff()
    {
        long pending = 0;
        TimeSpan lag = TimeSpan.FromMinutes(5);
        using var lagOff = new OverloadMonitor(100, TimeSpan.Zero, new ManualTimeProvider(), () => pending, () => lag);
        lagOff.Sample();
        Assert.False(lagOff.IsShedding);   // any lag, with MaxLoopLag 0
        pending = 101;
        lagOff.Sample();
        Assert.True(lagOff.IsShedding);

        using var queueOff = new OverloadMonitor(0, TimeSpan.FromSeconds(1), new ManualTimeProvider(), () => long.MaxValue, () => TimeSpan.Zero);
        queueOff.Sample();
        Assert.False(queueOff.IsShedding);   // any queue, with MaxPendingWork 0
    }

    [Fact]
    public void Sampling_RunsOnTheClock_WhenOnlyTheLoopLagIsChecked()
    {
        var time = new ManualTimeProvider();
        TimeSpan lag = TimeSpan.FromSeconds(2);
        using var monitor = new OverloadMonitor(0, TimeSpan.FromSeconds(1), time, loopLag: () => lag);

        Assert.False(monitor.IsShedding);
        time.Advance(TimeSpan.FromMilliseconds(199));
        Assert.False(monitor.IsShedding);   // not sampled yet: a fifth of the 1 s ceiling
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(monitor.IsShedding);
        lag = TimeSpan.Zero;
        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.False(monitor.IsShedding);
    }

    [Theory]
    [InlineData(1_000, 200)]     // the default ceiling
    [InlineData(100, 50)]        // a tight ceiling: never faster than 50 ms
    [InlineData(10_000, 250)]    // a loose one: never slower than 250 ms
    [InlineData(0, 250)]         // only the queue checked
    public void SamplePeriod_IsAFifthOfTheCeiling_Within50To250Ms(int ceilingMs, int periodMs)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(periodMs), OverloadMonitor.SamplePeriodFor(TimeSpan.FromMilliseconds(ceilingMs)));
    }

    /// <summary>
    /// One loop behind sheds what that loop serves, not what the others serve in time; the queue's
    /// ceiling stays global, and off the loops the longest lag decides.
    /// </summary>
    [Fact]
    public void OneLoopBehind_ShedsOnlyOnThatLoop()
    {
        TimeSpan longest = TimeSpan.FromSeconds(3);
        TimeSpan here = TimeSpan.FromMilliseconds(5);
        long pending = 0;
        using var monitor = new OverloadMonitor(100, TimeSpan.FromSeconds(1), new ManualTimeProvider(), () => pending, () => longest, () => here);

        monitor.Sample();
        Assert.False(monitor.IsShedding);   // a loop is behind, not this one
        Assert.Equal(longest, monitor.LoopLag);
        here = TimeSpan.FromSeconds(3);
        Assert.True(monitor.IsShedding);    // asked on the loop that is behind
        longest = here = TimeSpan.FromMilliseconds(5);
        monitor.Sample();
        Assert.False(monitor.IsShedding);
        pending = 101;
        monitor.Sample();
        Assert.True(monitor.IsShedding);    // the thread pool's queue is everyone's

        using var offTheLoops = new OverloadMonitor(0, TimeSpan.FromSeconds(1), new ManualTimeProvider(), loopLag: () => TimeSpan.FromSeconds(3));
        offTheLoops.Sample();
        Assert.True(offTheLoops.IsShedding);   // no current loop given: the longest lag
    }
}
