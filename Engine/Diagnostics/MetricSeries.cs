namespace Engine.Diagnostics;

/// <summary>
/// One time series (an instrument with one tag set) as <see cref="PrometheusExporter"/> keeps it:
/// a running total or last value, or histogram buckets. Updated with interlocked operations from
/// whichever thread records.
/// </summary>
internal sealed class MetricSeries
{
    private long _long;
    private double _double;
    private long _count;
    private double _sum;

    public MetricSeries(MetricTags tags, int buckets)
    {
        Tags = tags;
        Buckets = buckets == 0 ? [] : new long[buckets + 1];   // the last one is +Inf
    }

    public MetricTags Tags { get; }

    /// <summary>Per-bucket counts, not cumulative; the exporter adds them up.</summary>
    public long[] Buckets { get; }

    public double Value => Volatile.Read(ref _long) + Volatile.Read(ref _double);

    public long Count => Volatile.Read(ref _count);

    public double Sum => Volatile.Read(ref _sum);

    public void Add(long value) => Interlocked.Add(ref _long, value);

    public void Add(double value) => AddDouble(ref _double, value);

    public void Set(long value)
    {
        Volatile.Write(ref _double, 0);
        Volatile.Write(ref _long, value);
    }

    public void Set(double value)
    {
        Volatile.Write(ref _long, 0);
        Volatile.Write(ref _double, value);
    }

    public void Observe(double value, double[] bounds)
    {
        int i = 0;
        while (i < bounds.Length && value > bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref Buckets[i]);
        Interlocked.Increment(ref _count);
        AddDouble(ref _sum, value);
    }

    private static void AddDouble(ref double target, double value)
    {
        double current = Volatile.Read(ref target);
        while (true)
        {
            double seen = Interlocked.CompareExchange(ref target, current + value, current);
            if (seen.Equals(current))
            {
                return;
            }

            current = seen;
        }
    }
}
