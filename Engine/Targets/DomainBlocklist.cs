using System.Collections.Frozen;

namespace Engine.Targets;

/// <summary>
/// Blocked domains match the domain itself and every subdomain ("bank.com" blocks
/// "www.bank.com", not "notbank.com"). Lookup walks the labels of the host without allocating.
/// </summary>
internal sealed class DomainBlocklist
{
    private readonly FrozenSet<string> _domains;
    private readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public DomainBlocklist(IEnumerable<string> domains)
    {
        _domains = domains
            .Select(d => d.Trim().TrimEnd('.').ToLowerInvariant())
            .Where(d => d.Length > 0)
            .ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _lookup = _domains.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _domains.Count;

    /// <summary>Returns true when <paramref name="host"/> or one of its parent domains is blocked.</summary>
    public bool IsBlocked(ReadOnlySpan<char> host, out ReadOnlySpan<char> matched)
    {
        matched = default;
        if (_domains.Count == 0)
        {
            return false;
        }

        // A fully qualified "bank.com." names the same domain as "bank.com".
        if (host.Length > 0 && host[^1] == '.')
        {
            host = host[..^1];
        }

        while (host.Length > 0)
        {
            if (_lookup.Contains(host))
            {
                matched = host;
                return true;
            }

            int dot = host.IndexOf('.');
            if (dot < 0)
            {
                return false;
            }

            host = host[(dot + 1)..];
        }

        return false;
    }
}
