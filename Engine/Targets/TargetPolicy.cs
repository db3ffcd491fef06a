using System.Collections.Frozen;
using System.Net;

namespace Engine.Targets;

/// <summary>
/// Which destinations the engine will connect to (config <c>Security</c>). Names are checked
/// against the blocklist before resolution; addresses are checked after it, on the exact
/// address the socket will connect to, so DNS rebinding cannot reach a private network.
/// </summary>
internal sealed class TargetPolicy
{
    private readonly FrozenSet<int> _connectPorts;

    public TargetPolicy(bool allowPrivateTargets, IEnumerable<int>? allowedConnectPorts, IEnumerable<string>? blockedDomains)
    {
        AllowPrivateTargets = allowPrivateTargets;
        _connectPorts = (allowedConnectPorts ?? []).ToFrozenSet();
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

        return Blocklist.IsBlocked(host, out _) ? PolicyVerdict.BlockedDomain : PolicyVerdict.Allowed;
    }

    public PolicyVerdict CheckAddress(IPAddress address, out AddressClass addressClass)
    {
        addressClass = AddressClassifier.Classify(address);
        return addressClass == AddressClass.Public || AllowPrivateTargets ? PolicyVerdict.Allowed : PolicyVerdict.ForbiddenAddress;
    }
}
