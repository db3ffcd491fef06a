using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Engine.Tests.Diagnostics;

/// <summary>
/// Names what a process-wide measuring loop allocated, when it allocated more than it should: the
/// runtime's allocation-tick events (one per ~100 KB allocated, with the type of the object that
/// crossed the mark) summed by type. Only for the report of a run over budget: the listener and its
/// events allocate themselves, so it never runs during a measured loop.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const long GcKeyword = 0x1;
    private readonly ConcurrentDictionary<string, long> _byType = new(StringComparer.Ordinal);
    private volatile bool _enabled;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)GcKeyword);
            _enabled = true;
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is not { } names || e.Payload is not { } payload)
        {
            return;
        }

        int type = names.IndexOf("TypeName");
        int amount = names.IndexOf("AllocationAmount64");
        if (amount < 0)
        {
            amount = names.IndexOf("AllocationAmount");
        }

        if (type >= 0 && amount >= 0)
        {
            _byType.AddOrUpdate(payload[type] as string ?? "?", Convert.ToInt64(payload[amount], System.Globalization.CultureInfo.InvariantCulture), (_, sum) => sum + Convert.ToInt64(payload[amount], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Runs <paramref name="work"/> with the sampler on and returns the largest types, e.g. "System.Byte[] ~1.2 MB".</summary>
    public static async Task<string> SampleAsync(Func<Task> work)
    {
        using var sampler = new AllocationSampler();
        for (int i = 0; i < 50 && !sampler._enabled; i++)
        {
            await Task.Delay(10);   // the runtime's source is announced to a new listener at once, or shortly after
        }

        await work();
        await Task.Delay(TimeSpan.FromSeconds(2));   // the runtime delivers its events to listeners from a dispatch thread, in batches
        return sampler._byType.IsEmpty
            ? "no allocation tick seen (under ~100 KB allocated)"
            : string.Join(", ", sampler._byType.OrderByDescending(p => p.Value).Take(5).Select(p => $"{p.Key} ~{p.Value / 1024} KB"));
    }
}
