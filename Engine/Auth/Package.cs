using System.Net;
using System.Text;

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
        string? defaultRules = null)
    {
        Id = id;
        KeyBytes = Encoding.UTF8.GetBytes(key);
        Status = status;
        AllowedProtocols = allowedProtocols;
        IpAllowlist = ipAllowlist?.ToArray() ?? [];
        IpAuth = ipAuth?.ToArray() ?? [];
        DefaultRules = defaultRules;
    }

    public string Id { get; }

    /// <summary>The secret. Compared in constant time only; never logged.</summary>
    public byte[] KeyBytes { get; }

    public PackageStatus Status { get; }

    public ProxyProtocols AllowedProtocols { get; }

    public IPNetwork[] IpAllowlist { get; }

    public IPNetwork[] IpAuth { get; }

    public string? DefaultRules { get; }

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
