namespace Engine.Tunnel;

/// <summary>
/// Where a relay reports the bytes it moved, in batches (never per read): the package's traffic
/// account. Returning false cuts the tunnel (its cap or the credit pool is used up).
/// </summary>
internal interface ITrafficSink
{
    bool Report(long bytes);
}
