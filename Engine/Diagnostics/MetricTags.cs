namespace Engine.Diagnostics;

/// <summary>
/// A measurement's tags as a dictionary key built on the stack: up to four (name, value) pairs
/// held inline, so finding a series for a recorded value allocates nothing. String values are
/// kept as they are; other values are formatted (one allocation, which no engine instrument causes);
/// tags beyond the fourth are dropped.
/// </summary>
internal readonly struct MetricTags : IEquatable<MetricTags>
{
    public const int Max = 4;

    private readonly string? _k0, _k1, _k2, _k3;
    private readonly string? _v0, _v1, _v2, _v3;

    public MetricTags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        Count = Math.Min(tags.Length, Max);
        if (Count > 0) { _k0 = tags[0].Key; _v0 = Text(tags[0].Value); }
        if (Count > 1) { _k1 = tags[1].Key; _v1 = Text(tags[1].Value); }
        if (Count > 2) { _k2 = tags[2].Key; _v2 = Text(tags[2].Value); }
        if (Count > 3) { _k3 = tags[3].Key; _v3 = Text(tags[3].Value); }
    }

    public int Count { get; }

    public (string Name, string Value) this[int index] => index switch
    {
        0 => (_k0!, _v0!),
        1 => (_k1!, _v1!),
        2 => (_k2!, _v2!),
        3 => (_k3!, _v3!),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    private static string Text(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    public bool Equals(MetricTags other) =>
        Count == other.Count
        && string.Equals(_k0, other._k0, StringComparison.Ordinal) && string.Equals(_v0, other._v0, StringComparison.Ordinal)
        && string.Equals(_k1, other._k1, StringComparison.Ordinal) && string.Equals(_v1, other._v1, StringComparison.Ordinal)
        && string.Equals(_k2, other._k2, StringComparison.Ordinal) && string.Equals(_v2, other._v2, StringComparison.Ordinal)
        && string.Equals(_k3, other._k3, StringComparison.Ordinal) && string.Equals(_v3, other._v3, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is MetricTags other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Count, _v0, _v1, _v2, _v3);
}
