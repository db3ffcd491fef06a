namespace Engine.Tests.Diagnostics;

/// <summary>
/// What one measured loop allocated: every byte over every operation, never divided, never clamped, never
/// the best of several runs. A budget of B bytes per operation holds when
/// <c>Bytes &lt;= B × Operations + LoopAllowance</c>; with B = 0 over 10,000 operations, one 24-byte object
/// per thousand operations is 240 bytes and fails.
/// </summary>
/// <param name="Bytes">Allocated during the measured loop (for process-wide measurers, the long run minus the short run; it can be negative).</param>
/// <param name="Operations">Operations in the measured loop (for process-wide measurers, the extra operations of the long run).</param>
/// <param name="LoopAllowance">
/// Bytes the measuring itself may cost, stated by the measurer with its reason: 0 for a loop on the calling
/// thread; for a whole-process difference, what the runtime allocates on its own in that time.
/// </param>
/// <param name="Unit">What one operation is, for the report.</param>
internal readonly record struct AllocationMeasurement(long Bytes, long Operations, long LoopAllowance, string Unit)
{
    public bool IsWithin(long budgetPerOperation) => Bytes <= (budgetPerOperation * Operations) + LoopAllowance;

    public static AllocationMeasurement operator +(AllocationMeasurement a, AllocationMeasurement b) =>
        new(a.Bytes + b.Bytes, a.Operations + b.Operations, a.LoopAllowance + b.LoopAllowance, a.Unit);

    /// <summary>
    /// What this process allocates with nothing in flight for <paramref name="duration"/> (timers, thread pool,
    /// runtime), measured with the same whole-process counter: the part of a long-minus-short difference
    /// that is time, not operations. Measured beside the forwarding engine: about 1.7 KB/s.
    /// </summary>
    public static async Task<long> MeasureIdleAsync(TimeSpan duration)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await Task.Delay(duration > TimeSpan.Zero ? duration : TimeSpan.Zero);
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }

    public string Describe(long budgetPerOperation) =>
        $"{Bytes} B over {Operations} {Unit}s ({(double)Bytes / Operations:0.####} B per {Unit}); " +
        $"allowed {budgetPerOperation} B × {Operations} + {LoopAllowance} B loop allowance = {(budgetPerOperation * Operations) + LoopAllowance} B";
}
