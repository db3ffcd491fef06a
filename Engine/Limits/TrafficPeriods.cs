using System.Collections.Concurrent;
using System.Globalization;
using Engine.Auth;

namespace Engine.Limits;

/// <summary>
/// Names the traffic counter a package's bytes go to: its id for a lifetime cap, its id and the current UTC
/// period (<c>demo@2026-12-05</c>, <c>demo@2026-12</c>) for a periodic one, so a new period starts from zero in
/// every state store, shared or not. The key is built once per package and period and then only compared
/// (no allocation per request); <see cref="SecondsUntilReset"/> is the 429's Retry-After.
/// </summary>
/// <remarks>Counters of past periods are no longer read; a Redis operator can expire them (they are small).</remarks>
internal sealed class TrafficPeriods(TimeProvider time, Action<string>? retired = null)
{
    private readonly ConcurrentDictionary<string, PeriodKey> _keys = new(StringComparer.Ordinal);

    /// <summary>The counter the package's traffic is added to and checked against now.</summary>
    public string CounterKey(Package package)
    {
        TrafficPeriod period = package.Limits.TrafficPeriod;
        if (period == TrafficPeriod.None)
        {
            return package.Id;
        }

        DateTime now = time.GetUtcNow().UtcDateTime;
        long index = Index(period, now);
        if (_keys.TryGetValue(package.Id, out PeriodKey? cached) && cached.Index == index)
        {
            return cached.Key;
        }

        string key = package.Id + "@" + now.ToString(period == TrafficPeriod.Day ? "yyyy-MM-dd" : "yyyy-MM", CultureInfo.InvariantCulture);
        _keys[package.Id] = new PeriodKey(index, key);
        if (cached is not null && cached.Index < index)
        {
            retired?.Invoke(cached.Key);   // the period is over: its counter is no longer read
        }

        return key;
    }

    /// <summary>Whole seconds until the current period ends (at least 1); -1 for <see cref="TrafficPeriod.None"/>.</summary>
    public int SecondsUntilReset(TrafficPeriod period)
    {
        if (period == TrafficPeriod.None)
        {
            return -1;
        }

        DateTime now = time.GetUtcNow().UtcDateTime;
        DateTime end = period == TrafficPeriod.Day
            ? now.Date.AddDays(1)
            : new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);
        return (int)Math.Max(1, Math.Ceiling((end - now).TotalSeconds));
    }

    private static long Index(TrafficPeriod period, DateTime utc) =>
        period == TrafficPeriod.Day ? utc.Ticks / TimeSpan.TicksPerDay : (utc.Year * 12L) + utc.Month;

    // A package's counter key and the period it belongs to, replaced whole when the period turns.
    private sealed record PeriodKey(long Index, string Key);
}
