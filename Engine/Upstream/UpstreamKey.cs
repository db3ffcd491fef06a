namespace Engine.Upstream;

/// <summary>
/// A pool key as stored: egress, lower-cased host bytes, port and the hash computed once. Made only
/// when a key is first seen; lookups use <see cref="UpstreamLookup"/> over the request's bytes.
/// </summary>
internal readonly struct UpstreamKey
{
    public UpstreamKey(int egressId, byte[] lowerCaseHost, int port, int hash)
    {
        EgressId = egressId;
        Host = lowerCaseHost;
        Port = port;
        Hash = hash;
    }

    public int EgressId { get; }

    public byte[] Host { get; }

    public int Port { get; }

    public int Hash { get; }
}
