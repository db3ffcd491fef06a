using System.Collections.Concurrent;
using System.Globalization;

namespace LoadTests;

/// <summary>
/// Answers counted by label: the status with the engine's catalog code when it sent one
/// (<c>407 AUTH_FAILED</c>, <c>200</c>), or how the exchange ended without an answer
/// (<c>closed</c>, <c>timeout</c>, <c>SocketException:ConnectionReset</c>). Thread-safe.
/// </summary>
internal sealed class Outcomes
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public static string Label(int status, string? code) =>
        status <= 0 ? "closed"
        : code is null ? status.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{status} {code}");

    public static string Label(Exception e) => e switch
    {
        OperationCanceledException => "timeout",
        System.Net.Sockets.SocketException s => "SocketException:" + s.SocketErrorCode,
        _ => e.GetType().Name,
    };

    public void Add(string label) => _counts.AddOrUpdate(label, 1, static (_, n) => n + 1);

    public long Total => _counts.Values.Sum();

    public bool IsEmpty => _counts.IsEmpty;

    /// <summary>The counts whose label is not one of <paramref name="expected"/>.</summary>
    public Outcomes Except(IReadOnlyCollection<string> expected)
    {
        var rest = new Outcomes();
        foreach ((string label, long count) in _counts)
        {
            if (!expected.Contains(label))
            {
                rest._counts[label] = count;
            }
        }

        return rest;
    }

    /// <summary><c>label=count</c> pairs, most frequent first, joined by <paramref name="separator"/>.</summary>
    public string Render(string separator = ",") =>
        string.Join(separator, _counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}={p.Value}")));
}
