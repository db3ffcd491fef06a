using System.Text;
using Engine.Hosting;
using Engine.Rules;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Tests.Upstream;

/// <summary>Allocation measurers for the budget file: node selection and session resume, per call.</summary>
internal static class NodeSelectionAllocation
{
    private static readonly string[] Countries = ["us", "de", "gb", "fr", "br"];

    public static Engine.Tests.Diagnostics.AllocationMeasurement MeasureSelects()
    {
        var pool = new NodePool(
            Enumerable.Range(0, 10_000).Select(i => new NodeOptions
            {
                Id = "n" + i, Type = NodeType.Direct, Country = Countries[i % 5], City = "city_" + (i % 100), Network = (i % 3) == 0 ? "res" : "mob",
            }),
            NodeHealthPolicy.Default(TimeProvider.System));
        NodeFilter filter = pool.CreateFilter(NodeTags.PackCountry("us"), default, "city_5"u8, default, 0, RuleNetwork.Res, 0);
        ReadOnlySpan<int> exclude = [1, 2, 3];
        pool.Bans.RecordFailure(5, "example.com", 0);   // a ban exists, so the lookup path runs
        for (int i = 0; i < 100; i++)
        {
            pool.TrySelect(filter, exclude, "example.com", 0, out _);
        }

        const int Calls = 10_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Calls; i++)
        {
            pool.TrySelect(filter, exclude, "example.com", 0, out _);
        }

        return new(GC.GetAllocatedBytesForCurrentThread() - before, Calls, 0, "select");
    }

    public static Engine.Tests.Diagnostics.AllocationMeasurement MeasureResumes()
    {
        var store = new MemorySessionStore(TimeProvider.System);
        ReadOnlyMemory<byte> id = Encoding.ASCII.GetBytes("job42");
        ReadOnlyMemory<byte> fingerprint = Encoding.ASCII.GetBytes("country-us");
        var terms = new SessionTerms(86400, 0, 0, 0);
        ValueTask<SessionOpened> first = store.OpenAsync("p", id, fingerprint, terms);
        ValueTask bind = store.CommitAsync("p", id, null, "n1");
        if (!first.IsCompletedSuccessfully || !bind.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("the memory store did not complete synchronously");
        }

        const int Calls = 10_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Calls; i++)
        {
            ValueTask<SessionOpened> open = store.OpenAsync("p", id, fingerprint, terms);
            ValueTask commit = store.CommitAsync("p", id, "n1", "n1");
            if (!open.IsCompletedSuccessfully || !commit.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("the memory store did not complete synchronously");
            }
        }

        return new(GC.GetAllocatedBytesForCurrentThread() - before, Calls, 0, "resume");
    }
}
