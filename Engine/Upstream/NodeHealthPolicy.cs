namespace Engine.Upstream;

/// <summary>
/// How live traffic moves nodes in and out, in TimeProvider timestamp units. Defaults follow
/// Envoy's outlier detection (5 consecutive errors, 30 s base ejection, capped) tightened for
/// scraping exits, which fail more often and recover faster.
/// </summary>
internal sealed class NodeHealthPolicy
{
    public NodeHealthPolicy(TimeProvider time, int failuresToEject, TimeSpan ejectBase, TimeSpan ejectMax, int domainBanFailures, TimeSpan domainBanTtl)
    {
        FailuresToEject = Math.Max(1, failuresToEject);
        EjectBase = ToTicks(time, ejectBase);
        EjectMax = ToTicks(time, ejectMax);
        DomainBanFailures = Math.Max(1, domainBanFailures);
        DomainBanTtl = ToTicks(time, domainBanTtl);
        Second = time.TimestampFrequency;
    }

    /// <summary>One second in timestamp units.</summary>
    public long Second { get; }

    public static NodeHealthPolicy Default(TimeProvider time) =>
        new(time, failuresToEject: 3, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5), domainBanFailures: 3, TimeSpan.FromMinutes(10));

    public int FailuresToEject { get; }

    public long EjectBase { get; }

    public long EjectMax { get; }

    /// <summary>Target-side failures of one node against one domain, within the TTL, that ban the pair.</summary>
    public int DomainBanFailures { get; }

    public long DomainBanTtl { get; }

    public static long ToTicks(TimeProvider time, TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);
}
