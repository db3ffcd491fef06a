namespace Engine.Tests.Diagnostics;

/// <summary>
/// What one measured loop allocated: every byte over every operation, never divided, never clamped, never
/// the best of several runs (AllocationBudgetTests measures a loop over budget again, and fails when three
/// measurements are over). A budget of B bytes per operation holds when
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
    /// <summary>What an extra, sampled run of the loop allocated by type, when the measured one went over a zero budget (<see cref="AllocationSampler"/>).</summary>
    public string? Sampled { get; init; }

    public bool IsWithin(long budgetPerOperation) => Bytes <= (budgetPerOperation * Operations) + LoopAllowance;

    public static AllocationMeasurement operator +(AllocationMeasurement a, AllocationMeasurement b) =>
        new(a.Bytes + b.Bytes, a.Operations + b.Operations, a.LoopAllowance + b.LoopAllowance, a.Unit);

    /// <summary>
    /// Runs <paramref name="round"/> until three rounds in a row compiled no method (at most <paramref name="maxRounds"/>):
    /// steady state means tier-1 code, and tier-0 code heap-allocates what tier 1 keeps on the stack. A
    /// fixed warm-up was enough inside the full suite (the path already hot) but not in a fresh process
    /// running these tests alone, where the JIT was still promoting the path: 40-110 B per 407 measured,
    /// 0 with tiering off.
    /// </summary>
    public static async Task WarmUntilJitQuietAsync(Func<Task> round, int maxRounds = 40)
    {
        // Three quiet rounds in a row: the runtime holds promotions back while tier-0 work goes on
        // (its tiering delay), so one round without a compile can fall inside that pause.
        int quiet = 0;
        for (int i = 0; i < maxRounds && quiet < 3; i++)
        {
            long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            await round();
            quiet = System.Runtime.JitInfo.GetCompiledMethodCount() == compiled ? quiet + 1 : 0;
        }
    }

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
        $"allowed {budgetPerOperation} B × {Operations} + {LoopAllowance} B loop allowance = {(budgetPerOperation * Operations) + LoopAllowance} B" +
        (Sampled is null ? string.Empty : $"; a sampled run of the same loop allocated: {Sampled}");
}
