using LoadTests;

namespace Engine.Tests.LoadTestsRunner;

public class StatsTests
{
    [Fact]
    public void Median_OddEvenAndEmpty()
    {
        Assert.Equal(3, Stats.Median([5, 1, 3]));
        Assert.Equal(2.5, Stats.Median([4, 1, 3, 2]));
        Assert.True(double.IsNaN(Stats.Median([])));
    }

    [Fact]
    public void SteadyOf_IsTheMedianOfTheLaterHalf_NotTheLastWindow()
    {
        // The windows of LoadTests peers' second cold run of 2026-12-06 03:35 (req/s per CPU second):
        // the last window read 34k where the three before it read 28.9-30.8k.
        double[] windows = [24_088, 28_374, 29_479, 28_904, 30_843, 34_314];
        Assert.Equal(30_843, Stats.SteadyOf(windows));

        // The first half is not counted, however slow (the tiered JIT's second window).
        Assert.Equal(20, Stats.SteadyOf([1, 2, 3, 20, 20, 20]));
        Assert.Equal(6.5, Stats.SteadyOf([1, 9, 4]));   // the later half of three: windows 2 and 3
        Assert.True(double.IsNaN(Stats.SteadyOf([7])));
    }
}
