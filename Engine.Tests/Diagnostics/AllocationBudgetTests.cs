using Engine.Tests.Errors;
using Xunit.Abstractions;

namespace Engine.Tests.Diagnostics;

/// <summary>
/// Holds every hot-path operation to its entry in Engine.Benchmarks/allocation-budget.json, measured in-process
/// after warm-up: the bytes of one whole measured loop against <c>budget × operations</c> plus the measurer's
/// stated loop allowance (<see cref="AllocationMeasurement"/>), one run, nothing rounded down. Every entry
/// must have a measurer: an entry nobody measures fails.
/// </summary>
// Measurers that count process-wide allocations (the tunnel, forwarding) must not run beside other tests.
[Collection(Engine.Tests.Connection.SerialCollection.Name)]
public class AllocationBudgetTests(ITestOutputHelper output)
{
    /// <summary>
    /// Budget entry → a function measuring one loop of the operation after warm-up. To add one, put a line here
    /// (and the entry in the JSON file). Work done on the calling thread is measured with
    /// <see cref="GC.GetAllocatedBytesForCurrentThread"/> and has no loop allowance; work that hops threads (a
    /// tunnel's two copy loops, the forwarding path) needs <c>GC.GetTotalAllocatedBytes(precise: true)</c>
    /// around a bounded loop in an otherwise quiet test, and states what the runtime costs on its own meanwhile.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, Func<AllocationMeasurement>> Measurers = new Dictionary<string, Func<AllocationMeasurement>>(StringComparer.Ordinal)
    {
        ["AccessLog.Write"] = AccessLogAllocation.MeasureWrites,
        ["ErrorWriter.Write"] = ErrorWriterAllocation.MeasureWrites,
        ["HttpRequestParser.ParseHead"] = Engine.Tests.Http.HttpRequestParserAllocationTests.MeasureParses,
        ["MemorySessionStore.Resume"] = Engine.Tests.Upstream.NodeSelectionAllocation.MeasureResumes,
        ["NodePool.TrySelect"] = Engine.Tests.Upstream.NodeSelectionAllocation.MeasureSelects,
        ["RuleParser.TryParse"] = Engine.Tests.Rules.RuleParserAllocationTests.MeasureParses,
        ["Tunnel.SteadyState"] = Engine.Tests.Tunnel.TunnelAllocation.MeasureMebibytes,
        ["Forward.SteadyState"] = Engine.Tests.Connection.ForwardAllocation.MeasureRequests,
        ["Reject.AuthChallenge"] = Engine.Tests.Connection.RejectAllocation.MeasureRequests,
        ["NodeAnswerClassifier.Classify"] = Engine.Tests.Upstream.NodeAnswerClassifierTests.MeasureClassifications,
    };

    public static TheoryData<string> Entries => new(AllocationBudget.Entries.Keys.Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Entries))]
    public void Operation_AfterWarmUp_AllocatesWithinBudget(string entry)
    {
        long budget = AllocationBudget.Entries[entry];
        Assert.True(Measurers.TryGetValue(entry, out Func<AllocationMeasurement>? measure), $"{entry} has a budget in {AllocationBudget.RelativePath} but no measurer in AllocationBudgetTests.Measurers.");

        AllocationMeasurement measured = measure();
        Assert.True(measured.Operations > 0, $"{entry}: the measurer ran no operations.");
        output.WriteLine($"{entry}: {measured.Describe(budget)}");
        Assert.True(measured.IsWithin(budget), $"{entry}: {measured.Describe(budget)}.");
    }

    [Fact]
    public void BudgetFile_HasAnEntryForEveryMeasurer()
    {
        Assert.NotEmpty(AllocationBudget.Entries);
        foreach (string name in Measurers.Keys)
        {
            Assert.True(AllocationBudget.Entries.ContainsKey(name), $"{name} is measured but has no budget in {AllocationBudget.RelativePath}.");
        }

        Assert.All(AllocationBudget.Entries.Values, budget => Assert.True(budget >= 0));
    }

    [Fact]
    public async Task Sampler_NamesTheTypeThatWasAllocated()
    {
        // What a process-wide measurer adds to its report when a loop goes over budget: here ~4 MB
        // of one recognizable type must come out on top.
        var kept = new List<SampledMarker>();
        string sampled = await AllocationSampler.SampleAsync(() =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                kept.Add(new SampledMarker(i));
                if (kept.Count == 1_000)
                {
                    kept.Clear();
                }
            }

            return Task.CompletedTask;
        });

        output.WriteLine(sampled);
        Assert.StartsWith(nameof(SampledMarker) + " ~", sampled, StringComparison.Ordinal);   // the runtime names a nested type by its own name
    }

    private sealed record SampledMarker(long A, long B = 0, long C = 0, long D = 0)
    {
        public long E { get; } = A;
    }

    [Fact]
    public void Measurement_OneObjectPerThousandOperations_ExceedsAZeroBudget()
    {
        // The regression the exact comparison exists to catch: 10 objects of 24 B over 10,000 operations.
        var regressed = new AllocationMeasurement(10 * 24, 10_000, 0, "operation");
        Assert.False(regressed.IsWithin(0));
        Assert.True(new AllocationMeasurement(0, 10_000, 0, "operation").IsWithin(0));
        Assert.True(new AllocationMeasurement(640_000, 10_000, 0, "operation").IsWithin(64));
        Assert.False(new AllocationMeasurement(640_001, 10_000, 0, "operation").IsWithin(64));
    }
}
