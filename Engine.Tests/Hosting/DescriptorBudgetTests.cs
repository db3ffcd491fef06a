using Engine.Tests.Fixtures;
using Engine.Hosting;

namespace Engine.Tests.Hosting;

public class DescriptorBudgetTests
{
    [Fact]
    public void Cap_SmallConfiguredValue_IsKept()
    {
        Assert.Equal(10, DescriptorBudget.Cap(10, out _));
    }

    [SkippableFact]
    public void Cap_MoreThanTheLimitCarries_IsHalfTheFreeDescriptorsLessTheReserve()
    {
        long capped = DescriptorBudget.Cap(long.MaxValue, out ulong limit);
        Tools.RequireNot(limit == 0, "no RLIMIT_NOFILE on this platform");
        int open = Directory.GetFiles("/proc/self/fd").Length;
        long expected = ((long)limit - open - DescriptorBudget.Reserve) / 2;
        // A parallel test may open or close a few descriptors between the two reads.
        Assert.InRange(capped, expected - 32, expected + 32);
        Assert.True(capped < long.MaxValue);
    }
}
