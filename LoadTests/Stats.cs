namespace LoadTests;

/// <summary>The few statistics the runner reports.</summary>
internal static class Stats
{
    /// <summary>The median (the mean of the middle two for an even count); NaN when there is nothing.</summary>
    public static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>
    /// A fresh process's own steady rate from its back-to-back windows: the median of the later half
    /// (with six windows, the 4th to 6th). Not the last window alone: on a shared box one window can
    /// read a third off either way, and the ratio of the first window to it would carry that whole.
    /// Not every window after the first: the second still holds the last of the tiered JIT's work.
    /// </summary>
    public static double SteadyOf(IReadOnlyList<double> windows) =>
        windows.Count < 2 ? double.NaN : Median(windows.Skip(windows.Count / 2));
}
