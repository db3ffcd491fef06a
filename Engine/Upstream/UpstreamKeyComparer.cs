namespace Engine.Upstream;

/// <summary>
/// Equality for pool keys, and the alternate comparer that lets the pool's dictionary be searched
/// with an <see cref="UpstreamLookup"/> (the request's own bytes) and only materialise a key on insert.
/// </summary>
internal sealed class UpstreamKeyComparer : IEqualityComparer<UpstreamKey>, IAlternateEqualityComparer<UpstreamLookup, UpstreamKey>
{
    /// <summary>RFC 1035 §2.3.4: a domain name is at most 255 octets; longer hosts are not pooled.</summary>
    public const int MaxHostLength = 255;

    public static UpstreamKeyComparer Instance { get; } = new();

    public bool Equals(UpstreamKey x, UpstreamKey y) =>
        x.Hash == y.Hash && x.EgressId == y.EgressId && x.Port == y.Port && x.Host.AsSpan().SequenceEqual(y.Host);

    public int GetHashCode(UpstreamKey obj) => obj.Hash;

    public bool Equals(UpstreamLookup alternate, UpstreamKey other)
    {
        if (alternate.EgressId != other.EgressId || alternate.Port != other.Port || alternate.Host.Length != other.Host.Length)
        {
            return false;
        }

        ReadOnlySpan<byte> host = alternate.Host;
        byte[] stored = other.Host;
        for (int i = 0; i < host.Length; i++)
        {
            if (ToLower(host[i]) != stored[i])
            {
                return false;
            }
        }

        return true;
    }

    public int GetHashCode(UpstreamLookup alternate) => Hash(alternate.EgressId, alternate.Host, alternate.Port);

    public UpstreamKey Create(UpstreamLookup alternate)
    {
        byte[] host = new byte[alternate.Host.Length];
        for (int i = 0; i < host.Length; i++)
        {
            host[i] = ToLower(alternate.Host[i]);
        }

        return new UpstreamKey(alternate.EgressId, host, alternate.Port, Hash(alternate.EgressId, alternate.Host, alternate.Port));
    }

    // HashCode is seeded per process, so clients choosing hosts cannot aim for collisions.
    private static int Hash(int egressId, ReadOnlySpan<byte> host, int port)
    {
        Span<byte> lower = stackalloc byte[MaxHostLength];
        lower = lower[..Math.Min(host.Length, MaxHostLength)];
        for (int i = 0; i < lower.Length; i++)
        {
            lower[i] = ToLower(host[i]);
        }

        var hash = default(HashCode);
        hash.Add(egressId);
        hash.Add(port);
        hash.AddBytes(lower);
        return hash.ToHashCode();
    }

    private static byte ToLower(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
}
