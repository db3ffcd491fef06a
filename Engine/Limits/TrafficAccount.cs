using Engine.Auth;
using Engine.Tunnel;

namespace Engine.Limits;

/// <summary>
/// One connection's meter for its package's traffic. Bytes reach the shared counters in batches
/// (a relay reports every <see cref="BatchBytes"/>, the connection the rest when a request ends),
/// so counting costs no shared write per read. A tunnel that crosses its package's cap or empties
/// the credit pool is cut at the next batch: at most one batch per tunnel beyond the cap.
/// </summary>
internal sealed class TrafficAccount : ITrafficSink
{
    /// <summary>1 MiB: a 1 GB/s tunnel reports a thousand times a second at most, and overshoots a cap by 1 MiB at most.</summary>
    public const long BatchBytes = 1024 * 1024;

    private readonly RequestLimiter _limiter;
    private Package? _package;
    private long _reported;

    public TrafficAccount(RequestLimiter limiter) => _limiter = limiter;

    /// <summary>Bytes of the current request already reported.</summary>
    public long Reported => Volatile.Read(ref _reported);

    public void Begin(Package package)
    {
        _package = package;
        Volatile.Write(ref _reported, 0);
    }

    public bool Report(long bytes)
    {
        Package? package = _package;
        if (package is null || bytes <= 0)
        {
            return true;
        }

        Interlocked.Add(ref _reported, bytes);
        _limiter.AddTraffic(package, bytes);
        return _limiter.HasTrafficLeft(package);
    }

    /// <summary>The request ended having moved <paramref name="total"/> bytes: report what the relay did not.</summary>
    public void End(long total)
    {
        Report(total - Reported);
        _package = null;
    }
}
