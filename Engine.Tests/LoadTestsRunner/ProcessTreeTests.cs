using LoadTests;

namespace Engine.Tests.LoadTestsRunner;

/// <summary>How LoadTests finds a proxy's processes: /proc/PID/stat parent ids and ss's pid= entries.</summary>
public sealed class ProcessTreeTests
{
    [Theory]
    [InlineData("1234 (squid) S 1 1234 1234 0 -1 4194560", 1)]
    [InlineData("77 (a) b (c) d) R 42 77 77 0", 42)]
    [InlineData("88 (odd name) S 9", 9)]
    public void ParentOf_CommandWithSpacesAndParentheses_ReadsTheFourthField(string stat, int parent) =>
        Assert.Equal(parent, ProcessTree.ParentOf(stat));

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("5 (x)")]
    public void ParentOf_Truncated_IsNull(string stat) => Assert.Null(ProcessTree.ParentOf(stat));

    [Fact]
    public void Of_ThisProcess_StartsWithIt()
    {
        List<int> tree = ProcessTree.Of(Environment.ProcessId);

        Assert.Equal(Environment.ProcessId, tree[0]);
        Assert.True(ProcessTree.CpuSeconds(Environment.ProcessId) > 0);
        Assert.True(ProcessTree.RssBytes(Environment.ProcessId) > 0);
        Assert.True(ProcessTree.IsAlive(Environment.ProcessId));
    }

    [Fact]
    public void ListeningPids_SsOutput_DistinctAscending()
    {
        const string Ss = "LISTEN 0 4096 127.0.0.1:13128 0.0.0.0:* users:((\"squid\",pid=812,fd=11),(\"squid\",pid=77,fd=11),(\"squid\",pid=812,fd=12))\n";

        Assert.Equal([77, 812], PeerProcesses.ListeningPids(Ss));
        Assert.Empty(PeerProcesses.ListeningPids(string.Empty));
    }
}
