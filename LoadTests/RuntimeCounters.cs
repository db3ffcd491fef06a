using System.Globalization;

namespace LoadTests;

/// <summary>
/// The engine's GC and JIT figures as its admin <c>/metrics</c> exports them (the runtime's
/// "System.Runtime" meter, docs/admin.md): collections by generation, bytes allocated, time
/// paused and time spent compiling since the process started. Two scrapes subtracted give what one
/// load run cost.
/// </summary>
/// <param name="Gen0">Collections of generation 0 only: a gen1 collection is counted under <paramref name="Gen1"/> alone (the runtime's convention).</param>
/// <param name="JitSeconds">Time the JIT spent compiling (0 for a Native AOT build, or an engine that does not export it).</param>
internal readonly record struct RuntimeCounters(long Gen0, long Gen1, long Gen2, long AllocatedBytes, double PauseSeconds, double JitSeconds = 0)
{
    private const string Collections = "dotnet_gc_collections_total";
    private const string Allocated = "dotnet_gc_heap_total_allocated_bytes_total";
    private const string Pause = "dotnet_gc_pause_time_seconds_total";
    private const string Jit = "dotnet_jit_compilation_time_seconds_total";

    public static RuntimeCounters operator -(RuntimeCounters after, RuntimeCounters before) =>
        new(after.Gen0 - before.Gen0, after.Gen1 - before.Gen1, after.Gen2 - before.Gen2,
            after.AllocatedBytes - before.AllocatedBytes, after.PauseSeconds - before.PauseSeconds, after.JitSeconds - before.JitSeconds);

    public static RuntimeCounters Subtract(RuntimeCounters after, RuntimeCounters before) => after - before;

    /// <summary>
    /// Reads the figures from a Prometheus text exposition; false when the allocated-bytes series
    /// is missing (an engine whose exporter does not carry the runtime's meter). Lines it does not
    /// know, comments and malformed values are skipped.
    /// </summary>
    public static bool TryParse(string exposition, out RuntimeCounters counters)
    {
        long gen0 = 0, gen1 = 0, gen2 = 0, allocated = 0;
        double pause = 0, jit = 0;
        bool found = false;
        foreach (string line in exposition.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#' || !TrySplit(line, out string name, out string labels, out double value))
            {
                continue;
            }

            switch (name)
            {
                case Collections when labels.Contains("gc_heap_generation=\"gen0\"", StringComparison.Ordinal):
                    gen0 = (long)value;
                    break;
                case Collections when labels.Contains("gc_heap_generation=\"gen1\"", StringComparison.Ordinal):
                    gen1 = (long)value;
                    break;
                case Collections when labels.Contains("gc_heap_generation=\"gen2\"", StringComparison.Ordinal):
                    gen2 = (long)value;
                    break;
                case Allocated:
                    allocated = (long)value;
                    found = true;
                    break;
                case Pause:
                    pause = value;
                    break;
                case Jit:
                    jit = value;
                    break;
            }
        }

        counters = new RuntimeCounters(gen0, gen1, gen2, allocated, pause, jit);
        return found;
    }

    /// <summary><c>name{labels} value [timestamp]</c>; label values may hold spaces, so the value is found after the closing brace.</summary>
    private static bool TrySplit(string line, out string name, out string labels, out double value)
    {
        int brace = line.IndexOf('{', StringComparison.Ordinal);
        int space = line.IndexOf(' ', StringComparison.Ordinal);
        int nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
        int labelsEnd = nameEnd == brace && brace >= 0 ? line.LastIndexOf('}') + 1 : nameEnd;
        name = nameEnd > 0 ? line[..nameEnd] : string.Empty;
        labels = labelsEnd > nameEnd ? line[nameEnd..labelsEnd] : string.Empty;
        string[] rest = labelsEnd > 0 ? line[labelsEnd..].Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
        value = 0;
        return name.Length > 0 && rest.Length > 0 && double.TryParse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }
}
