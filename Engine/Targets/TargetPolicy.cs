using System.Collections;
using System.Collections.Frozen;
using System.Net;

namespace Engine.Targets;

/// <summary>
/// Which destinations the engine will connect to (config <c>Security</c>). Names are checked
/// against the blocklist before resolution; addresses are checked after it, on the exact
/// address the socket will connect to, so DNS rebinding cannot reach a private network, and
/// neither can a name that resolves to one of this host's own addresses.
/// </summary>
internal sealed class TargetPolicy
{
    private readonly FrozenSet<int> _connectPorts;
    private readonly BitArray? _httpPorts;
    private readonly LocalAddresses? _local;

    /// <param name="allowedHttpPorts">Ports a plain-HTTP request may reach; null or empty = every port.</param>
    /// <param name="local">This host's addresses, refused like private ones; default the machine's interfaces.</param>
    public TargetPolicy(bool allowPrivateTargets, IEnumerable<int>? allowedConnectPorts, IEnumerable<string>? blockedDomains,
        IEnumerable<PortRange>? allowedHttpPorts = null, LocalAddresses? local = null)
    {
        AllowPrivateTargets = allowPrivateTargets;
        _connectPorts = (allowedConnectPorts ?? []).ToFrozenSet();
        PortRange[] http = [.. allowedHttpPorts ?? []];
        _httpPorts = http.Length == 0 ? null : HttpPorts.ToMap(http);
        _local = allowPrivateTargets ? null : local ?? LocalAddresses.Machine;
        Blocklist = new DomainBlocklist(blockedDomains ?? []);
    }

    /// <summary>Everything allowed: for tests and for nodes that are themselves proxies.</summary>
    public static TargetPolicy Permissive { get; } = new(allowPrivateTargets: true, allowedConnectPorts: null, blockedDomains: null);

    public bool AllowPrivateTargets { get; }

    public DomainBlocklist Blocklist { get; }

    /// <summary>Checks the requested name and port. An empty port list allows every port.</summary>
    public PolicyVerdict CheckRequest(ReadOnlySpan<char> host, int port, bool isConnect)
    {
        if (isConnect && _connectPorts.Count > 0 && !_connectPorts.Contains(port))
        {
            return PolicyVerdict.PortNotAllowed;
        }

        if (!isConnect && _httpPorts is not null && !((uint)port < 65536u && _httpPorts[port]))
        {
            return PolicyVerdict.HttpPortNotAllowed;
        }

        return Blocklist.IsBlocked(host, out _) ? PolicyVerdict.BlockedDomain : PolicyVerdict.Allowed;
    }

    public PolicyVerdict CheckAddress(IPAddress address, out AddressClass addressClass)
    {
        if (AllowPrivateTargets)
        {
            addressClass = AddressClassifier.Classify(address);
            return PolicyVerdict.Allowed;
        }

        addressClass = AddressClassifier.Classify(address);
        if (addressClass == AddressClass.Public && _local is not null && _local.Contains(address))
        {
            addressClass = AddressClass.Local;
        }

        return addressClass == AddressClass.Public ? PolicyVerdict.Allowed : PolicyVerdict.ForbiddenAddress;
    }
}
