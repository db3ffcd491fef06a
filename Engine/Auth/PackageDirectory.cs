using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Engine.Auth;

/// <summary>
/// Finds the package for a key in time that does not depend on how much of a guess matches:
/// the map is keyed by SHA-256 of the key, and the stored key is then compared with
/// <see cref="CryptographicOperations.FixedTimeEquals"/>.
/// </summary>
internal sealed class PackageDirectory
{
    private readonly Dictionary<UInt128, Package> _byKeyHash;
    private readonly Package[] _ipAuthPackages;
    private readonly Dictionary<string, Package> _byId;

    public PackageDirectory(IEnumerable<Package> packages)
    {
        Package[] all = packages.ToArray();
        Packages = all;
        _byKeyHash = new Dictionary<UInt128, Package>(all.Length);
        foreach (Package package in all)
        {
            if (!_byKeyHash.TryAdd(HashKey(package.KeyBytes), package))
            {
                throw new ArgumentException($"Two packages share one key (package '{package.Id}').", nameof(packages));
            }
        }

        _byId = new Dictionary<string, Package>(all.Length, StringComparer.Ordinal);
        foreach (Package package in all)
        {
            _byId.TryAdd(package.Id, package);
        }

        _ipAuthPackages = all.Where(p => p.IpAuth.Length > 0).ToArray();
    }

    public IReadOnlyList<Package> Packages { get; }

    /// <summary>The package with this id (admin API); never used to authenticate a client.</summary>
    public Package? FindById(string id) => _byId.GetValueOrDefault(id);

    public bool TryFindByKey(ReadOnlySpan<byte> key, out Package package)
    {
        if (_byKeyHash.TryGetValue(HashKey(key), out Package? found)
            && CryptographicOperations.FixedTimeEquals(found.KeyBytes, key))
        {
            package = found;
            return true;
        }

        package = null!;
        return false;
    }

    /// <summary>The package whose <c>IpAuth</c> networks contain the client, for credential-less requests.</summary>
    public Package? FindByClientAddress(IPAddress client)
    {
        foreach (Package package in _ipAuthPackages)
        {
            if (Package.Contains(package.IpAuth, client))
            {
                return package;
            }
        }

        return null;
    }

    /// <summary>
    /// Authenticates one request. <paramref name="credentials"/> receives the decoded
    /// <c>rules:key</c> text; <paramref name="rulesLength"/> is the length of the rules part.
    /// </summary>
    public AuthOutcome Authenticate(
        ReadOnlySpan<byte> proxyAuthorization,
        IPAddress client,
        ProxyProtocols protocol,
        Span<byte> credentials,
        out Package? package,
        out int rulesLength)
    {
        package = null;
        rulesLength = 0;
        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }

        if (proxyAuthorization.IsEmpty)
        {
            package = FindByClientAddress(client);
            if (package is null)
            {
                return AuthOutcome.Missing;
            }

            rulesLength = -1;   // no username: the package's DefaultRules apply
            return CheckPolicy(package, client, protocol);
        }

        if (!BasicCredentials.TryParse(proxyAuthorization, credentials, out rulesLength, out Range keyRange))
        {
            return AuthOutcome.Malformed;
        }

        return CheckKey(credentials[keyRange], client, protocol, out package);
    }

    /// <summary>
    /// Authenticates <c>rules:key</c> that arrived decoded (the RFC 1929 username and password of a
    /// SOCKS5 client), split and checked as <see cref="BasicCredentials"/> splits the HTTP header's.
    /// </summary>
    public AuthOutcome AuthenticateDecoded(ReadOnlySpan<byte> credentials, IPAddress client, ProxyProtocols protocol, out Package? package, out int rulesLength)
    {
        package = null;
        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }

        if (!BasicCredentials.TrySplit(credentials, out rulesLength, out Range keyRange))
        {
            return AuthOutcome.Malformed;
        }

        return CheckKey(credentials[keyRange], client, protocol, out package);
    }

    private AuthOutcome CheckKey(ReadOnlySpan<byte> key, IPAddress client, ProxyProtocols protocol, out Package? package)
    {
        package = null;
        if (!TryFindByKey(key, out Package found))
        {
            return AuthOutcome.UnknownKey;
        }

        package = found;
        return CheckPolicy(found, client, protocol);
    }

    private static AuthOutcome CheckPolicy(Package package, IPAddress client, ProxyProtocols protocol)
    {
        if (!package.IsClientAllowed(client))
        {
            return AuthOutcome.IpNotAllowed;
        }

        return package.Status switch
        {
            PackageStatus.Suspended => AuthOutcome.Suspended,
            PackageStatus.Paused => AuthOutcome.Paused,
            _ when (package.AllowedProtocols & protocol) == 0 => AuthOutcome.ProtocolNotAllowed,
            _ => AuthOutcome.Authenticated,
        };
    }

    private static UInt128 HashKey(ReadOnlySpan<byte> key)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(key, digest);
        return MemoryMarshal.Read<UInt128>(digest);
    }
}
