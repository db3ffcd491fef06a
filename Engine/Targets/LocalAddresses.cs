using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Engine.Targets;

/// <summary>
/// Every unicast address of this host's interfaces. A public-looking interface address (a cloud
/// VM's, a bare-metal host's, or 192.0.2.2 on a lab box that .NET returns for the host name) is
/// still the way back into services listening on 0.0.0.0, so <see cref="TargetPolicy"/> refuses
/// it unless private targets are allowed.
/// </summary>
/// <remarks>
/// The set is a snapshot, replaced when the OS reports an address change
/// (<see cref="NetworkChange.NetworkAddressChanged"/>, netlink on Linux) and in any case when it is
/// older than <see cref="MaxAge"/> (the refresh runs off the request path). Addresses are kept as
/// 128-bit keys, IPv4 in its mapped form, so a lookup allocates nothing.
/// </remarks>
internal sealed class LocalAddresses : IDisposable
{
    /// <summary>A missed change notification costs at most this long.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    private static readonly Lazy<LocalAddresses> MachineInstance = new(() => new LocalAddresses(ReadInterfaces, TimeProvider.System, watch: true));

    private readonly Func<IEnumerable<IPAddress>> _read;
    private readonly TimeProvider _time;
    private readonly bool _watching;
    private volatile FrozenSet<UInt128> _keys = FrozenSet<UInt128>.Empty;
    private long _readAt;
    private int _refreshing;

    /// <param name="read">Where the addresses come from (the machine's interfaces; a list in tests).</param>
    public LocalAddresses(Func<IEnumerable<IPAddress>> read, TimeProvider time, bool watch = false)
    {
        _read = read;
        _time = time;
        Refresh();
        if (watch)
        {
            NetworkChange.NetworkAddressChanged += OnAddressChanged;
            _watching = true;
        }
    }

    /// <summary>This machine's interfaces, shared by every policy.</summary>
    public static LocalAddresses Machine => MachineInstance.Value;

    /// <summary>How many addresses the snapshot holds.</summary>
    public int Count => _keys.Count;

    public bool Contains(IPAddress address)
    {
        long now = _time.GetTimestamp();
        if (_time.GetElapsedTime(Volatile.Read(ref _readAt), now) > MaxAge && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static self => self.RefreshOnce(), this, preferLocal: false);
        }

        return _keys.Contains(KeyOf(address));
    }

    /// <summary>Reads the interfaces now (also what the change notification does).</summary>
    public void Refresh()
    {
        var keys = new HashSet<UInt128>();
        try
        {
            foreach (IPAddress address in _read())
            {
                keys.Add(KeyOf(address));
            }
        }
        catch (NetworkInformationException)
        {
            return;   // keep the last snapshot; the next change or MaxAge tries again
        }

        _keys = keys.ToFrozenSet();
        Volatile.Write(ref _readAt, _time.GetTimestamp());
    }

    /// <summary>
    /// The address as a 128-bit key: IPv4 (and every IPv6 form that embeds an IPv4 destination,
    /// see <see cref="AddressClassifier.TryGetEmbeddedV4"/>) as ::ffff:a.b.c.d; IPv6 as itself.
    /// </summary>
    internal static UInt128 KeyOf(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(b[12..], out _);
            return Mapped(BinaryPrimitives.ReadUInt32BigEndian(b[12..]));
        }

        address.TryWriteBytes(b, out _);
        return AddressClassifier.TryGetEmbeddedV4(b, out uint v4) ? Mapped(v4) : BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    private static UInt128 Mapped(uint v4) => new(0, 0xFFFF_0000_0000UL | v4);

    private void RefreshOnce()
    {
        try
        {
            Refresh();
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private void OnAddressChanged(object? sender, EventArgs e) => Refresh();

    private static IEnumerable<IPAddress> ReadInterfaces()
    {
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            foreach (UnicastIPAddressInformation unicast in nic.GetIPProperties().UnicastAddresses)
            {
                yield return unicast.Address;
            }
        }
    }

    public void Dispose()
    {
        if (_watching)
        {
            NetworkChange.NetworkAddressChanged -= OnAddressChanged;
        }
    }
}
