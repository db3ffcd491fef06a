using System.Text;
using StackExchange.Redis;

namespace Engine.State;

/// <summary>
/// The key layout (docs/scale-out.md). The package id is a hash tag (<c>{pkg}</c>) so a package's
/// keys stay together should the store ever move to Redis Cluster; the flush script touches
/// several packages at once and so needs one Redis (with replicas at most), not a cluster.
/// </summary>
internal sealed class RedisKeys(string prefix)
{
    private readonly byte[] _sessionPrefix = Encoding.UTF8.GetBytes(prefix + "sess:{");

    public RedisKey Credits { get; } = prefix + "credits";

    /// <summary><c>engine:{pkg}:bucket</c>: hash of millitokens (<c>t</c>) and the last refill in ms (<c>at</c>).</summary>
    /// <summary>The number of the last flush Redis applied for one instance (a flush sent again after a timeout counts once).</summary>
    public RedisKey Flushed(string instance) => prefix + "flushed:" + instance;

    public RedisKey Bucket(string packageId) => prefix + "{" + packageId + "}:bucket";

    /// <summary><c>engine:{pkg}:traffic</c>: bytes the package moved, on every instance.</summary>
    public RedisKey Traffic(string packageId) => prefix + "{" + packageId + "}:traffic";

    /// <summary><c>engine:sess:{pkg}:{id}</c>: one hash per session; the id is bytes from the username.</summary>
    public RedisKey Session(string packageId, ReadOnlySpan<byte> sessionId)
    {
        int packageBytes = Encoding.UTF8.GetByteCount(packageId);
        byte[] key = new byte[_sessionPrefix.Length + packageBytes + 2 + sessionId.Length];
        _sessionPrefix.CopyTo(key, 0);
        int at = _sessionPrefix.Length + Encoding.UTF8.GetBytes(packageId, key.AsSpan(_sessionPrefix.Length));
        key[at++] = (byte)'}';
        key[at++] = (byte)':';
        sessionId.CopyTo(key.AsSpan(at));
        return key;
    }
}
