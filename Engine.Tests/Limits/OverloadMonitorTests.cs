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
        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(monitor.IsShedding);
        lag = TimeSpan.Zero;
        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.False(monitor.IsShedding);
    }
}
