using System.Net;
using System.Text;
using Engine.Limits;
using Engine.Rules;

namespace Engine.Auth;

/// <summary>A customer package as the data path sees it: immutable, built once per configuration load.</summary>
internal sealed class Package
{
    public Package(
        string id,
        string key,
        PackageStatus status = PackageStatus.Active,
        ProxyProtocols allowedProtocols = ProxyProtocols.All,
        IReadOnlyList<IPNetwork>? ipAllowlist = null,
        IReadOnlyList<IPNetwork>? ipAuth = null,
        string? defaultRules = null,
        RulePolicy? rules = null,
        IReadOnlyList<string>? allowedNetworks = null,
        PackageLimits? limits = null)
    {
        Limits = limits ?? PackageLimits.None;
        Id = id;
        KeyBytes = Encoding.UTF8.GetBytes(key);
        Status = status;
        AllowedProtocols = allowedProtocols;
        IpAllowlist = ipAllowlist?.ToArray() ?? [];
        IpAuth = ipAuth?.ToArray() ?? [];
        DefaultRules = defaultRules;
        DefaultRulesBytes = defaultRules is null ? [] : Encoding.ASCII.GetBytes(defaultRules);
        Rules = rules ?? RulePolicy.AllowAll;
        AllowedNetworkMask = NetworkMask(allowedNetworks);
    }

    public string Id { get; }

    /// <summary>The secret. Compared in constant time only; never logged.</summary>
    public byte[] KeyBytes { get; }

    public PackageStatus Status { get; }

    public ProxyProtocols AllowedProtocols { get; }

    public IPNetwork[] IpAllowlist { get; }

    public IPNetwork[] IpAuth { get; }

    public string? DefaultRules { get; }

    /// <summary><see cref="DefaultRules"/> as the bytes the rule parser reads; empty when none.</summary>
    public byte[] DefaultRulesBytes { get; }

    /// <summary>Which rules and networks this package may ask for (<c>AllowedRules</c>, <c>AllowedNetworks</c>).</summary>
    public RulePolicy Rules { get; }

    /// <summary>RequestsPerSecond, MaxConcurrent, TrafficLimitBytes, CircuitBreaker.</summary>
    public PackageLimits Limits { get; }

    /// <summary><c>AllowedNetworks</c> as bits (1 &lt;&lt; <see cref="RuleNetwork"/>) for node filters; 0 = every network.</summary>
    public byte AllowedNetworkMask { get; }

    private static byte NetworkMask(IReadOnlyList<string>? networks)
    {
        if (networks is null)
        {
            return 0;
        }

        int mask = 0;
        foreach (string network in networks)
        {
            mask |= network switch
            {
                "res" => 1 << (int)RuleNetwork.Res,
                "mob" => 1 << (int)RuleNetwork.Mob,
                "dc" => 1 << (int)RuleNetwork.Dc,
                _ => 0,
            };
        }

        // An empty list would match nothing; the reader rejects it, and here it means "none allowed"
        // only through the rule policy, so keep the filter open rather than silently unroutable.
        return (byte)mask;
    }

    public bool IsClientAllowed(IPAddress client) => IpAllowlist.Length == 0 || Contains(IpAllowlist, client);

    internal static bool Contains(IPNetwork[] networks, IPAddress client)
    {
        foreach (IPNetwork network in networks)
        {
            if (network.Contains(client))
            {
                return true;
            }
        }

        return false;
    }

    public override string ToString() => Id;
}
