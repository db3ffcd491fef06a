namespace Engine.Upstream;

/// <summary>(egress, host, port) over borrowed bytes: looks up an <see cref="UpstreamKey"/> without allocating.</summary>
internal readonly ref struct UpstreamLookup
{
    public UpstreamLookup(int egressId, ReadOnlySpan<byte> host, int port)
    {
        EgressId = egressId;
        Host = host;
        Port = port;
    }

    public int EgressId { get; }

    /// <summary>Host as in the request (any case); hosts compare case-insensitively (RFC 3986 §3.2.2).</summary>
    public ReadOnlySpan<byte> Host { get; }

    public int Port { get; }
}
