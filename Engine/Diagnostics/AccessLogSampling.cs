namespace Engine.Diagnostics;

/// <summary>
/// Which lines the access log keeps: every error, and of the successes a fixed share chosen by a
/// hash of the correlation id — deterministic, so the same request is kept or dropped on every
/// instance and in every rerun, and a kept line can be joined with the engine's other logs.
/// </summary>
internal static class AccessLogSampling
{
    /// <summary>A line that is not a plain success: no status yet, 4xx/5xx, or a catalog CODE (a tunnel that failed after its 200).</summary>
    public static bool IsError(in AccessLogEntry entry) => entry.Status is < 100 or >= 400 || !entry.Code.IsEmpty;

    /// <summary>The hash bound for <paramref name="rate"/> (0..1): a success is kept when its hash is below it.</summary>
    public static ulong Threshold(double rate) =>
        rate >= 1 ? ulong.MaxValue : rate <= 0 ? 0 : (ulong)(rate * 18446744073709551616.0);

    public static bool Keep(in AccessLogEntry entry, ulong threshold) =>
        threshold == ulong.MaxValue || IsError(entry) || Hash(entry.CorrelationId) < threshold;

    /// <summary>FNV-1a over the id, then a murmur3 finalizer: ids are sequential, the low bits must still spread.</summary>
    internal static ulong Hash(ReadOnlySpan<byte> id)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in id)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        hash ^= hash >> 33;
        return hash;
    }
}
