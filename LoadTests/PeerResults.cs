namespace LoadTests;

/// <summary>
/// Every figure of a peer run, one value per repetition, by target and key (<see cref="PeerKeys"/>):
/// the table reports medians (and sums for errors) of these.
/// </summary>
internal sealed class PeerResults
{
    private readonly Dictionary<(string Target, string Key), List<double>> _values = [];

    public void Add(string target, string key, double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value))
        {
            return;
        }

        if (!_values.TryGetValue((target, key), out List<double>? list))
        {
            _values[(target, key)] = list = [];
        }

        list.Add(value);
    }

    public IReadOnlyList<double> Values(string target, string key) =>
        _values.TryGetValue((target, key), out List<double>? list) ? list : [];

    /// <summary>The median of the repetitions (the mean of the middle two for an even count); null when none was measured.</summary>
    public double? Median(string target, string key)
    {
        IReadOnlyList<double> values = Values(target, key);
        return values.Count == 0 ? null : Stats.Median(values);
    }

    public double? Sum(string target, params string[] keys)
    {
        IEnumerable<double> values = keys.SelectMany(k => Values(target, k));
        return values.Any() ? values.Sum() : null;
    }
}
