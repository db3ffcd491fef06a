using Engine.Rules;

namespace Engine.Upstream;

/// <summary>
/// Every node of the configuration with an index over its tags. Selection takes the shortest
/// posting list among the request's filters, samples it at random and keeps the less loaded of
/// two eligible nodes (power of two choices, Mitzenmacher 2001: near-best balance without a
/// global scan), so a pick among 100,000 nodes costs a few lookups and allocates nothing.
/// </summary>
internal sealed class NodePool
{
    // Random probes before falling back to a scan: with half the list eligible, 8 probes miss
    // two eligible nodes less than 4% of the time; the scan then bounds the worst case.
    private const int Probes = 8;

    private readonly Node[] _nodes;
    private readonly Dictionary<string, Node> _byId;
    private readonly Dictionary<string, Node>.AlternateLookup<ReadOnlySpan<char>> _byIdSpan;
    private readonly int[] _all;

    // Provider gateways are few (one per provider) and each matches whole families of filter
    // values, so they stay out of the posting lists and are checked one by one.
    private readonly int[] _gateways;
    private readonly Dictionary<ushort, int[]> _byCountry;
    private readonly Dictionary<int, int[]> _byRegion;
    private readonly Dictionary<int, int[]> _byCity;
    private readonly Dictionary<int, int[]> _byIsp;
    private readonly Dictionary<uint, int[]> _byAsn;
    private readonly int[][] _byNetwork;

    public NodePool(IEnumerable<NodeOptions> options, NodeHealthPolicy health)
    {
        Health = health;
        Bans = new DomainBans(health);
        var nodes = new List<Node>();
        foreach (NodeOptions option in options)
        {
            var tags = new TagIds(Regions.Intern(option.Region), Cities.Intern(option.City), Isps.Intern(option.Isp));
            nodes.Add(new Node(nodes.Count, option, tags));
        }

        _nodes = [.. nodes];
        _byId = new Dictionary<string, Node>(_nodes.Length, StringComparer.Ordinal);
        foreach (Node node in _nodes)
        {
            if (!_byId.TryAdd(node.Id, node))
            {
                throw new ArgumentException($"node id '{node.Id}' appears twice", nameof(options));
            }
        }

        _byIdSpan = _byId.GetAlternateLookup<ReadOnlySpan<char>>();
        _all = [.. _nodes.Where(n => n.Weight > 0 && n.Gateway is null).Select(n => n.Index)];
        _gateways = [.. _nodes.Where(n => n.Weight > 0 && n.Gateway is not null).Select(n => n.Index)];
        _byCountry = Postings(n => n.Country, c => c != 0);
        _byRegion = Postings(n => n.Region, t => t >= 0);
        _byCity = Postings(n => n.City, t => t >= 0);
        _byIsp = Postings(n => n.Isp, t => t >= 0);
        _byAsn = Postings(n => n.Asn, a => a != 0);
        _byNetwork = new int[(int)RuleNetwork.Dc + 1][];
        for (int network = 0; network < _byNetwork.Length; network++)
        {
            _byNetwork[network] = [.. _all.Where(i => (int)_nodes[i].Network == network)];
        }
    }

    public NodeHealthPolicy Health { get; }

    public DomainBans Bans { get; }

    public TagTable Regions { get; } = new();

    public TagTable Cities { get; } = new();

    public TagTable Isps { get; } = new();

    public int Count => _nodes.Length;

    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>
    /// The node with this id, unless it was removed. A session's stored gateway binding
    /// (<c>id#nonce</c>) finds its gateway.
    /// </summary>
    public Node? Find(string id) =>
        _byIdSpan.TryGetValue(Gateway.NodeIdOf(id), out Node? node) && node.AdminState != NodeAdminState.Removed ? node : null;

    /// <summary>
    /// After a reload: nodes whose exit did not change keep their health and operator state, and
    /// their per-domain bans move to their new positions. Nodes gone from the configuration are
    /// marked removed in <paramref name="previous"/>, so the requests still holding them finish and
    /// nothing new is sent there.
    /// </summary>
    /// <param name="keepRemoved">A pool rebuilt for an admin PUT or a node-source change (not a configuration
    /// reload): nodes removed with DELETE /nodes/{id} stay removed (admin.md: until a configuration reload).</param>
    public void CarryOver(NodePool previous, bool keepRemoved = false)
    {
        var map = new Dictionary<int, int>();
        foreach (Node old in previous.Nodes)
        {
            if (_byId.TryGetValue(old.Id, out Node? fresh) && fresh.SameExitAs(old))
            {
                fresh.CarryOver(old, keepRemoved);
                map[old.Index] = fresh.Index;
            }
            else if (!_byId.ContainsKey(old.Id))
            {
                old.AdminState = NodeAdminState.Removed;
            }
        }

        Bans.CopyFrom(previous.Bans, map);
    }

    /// <summary>The node with this id whatever its admin state (admin API, reload).</summary>
    public Node? FindAny(string id) => _byId.GetValueOrDefault(id);

    /// <summary>Resolves rule values (bytes of the username) to a filter; values no node carries match nothing.</summary>
    public NodeFilter CreateFilter(ushort country, ReadOnlySpan<byte> region, ReadOnlySpan<byte> city, ReadOnlySpan<byte> isp, uint asn, RuleNetwork network, byte allowedNetworks) => new()
    {
        Country = country,
        Region = Regions.Find(region),
        City = Cities.Find(city),
        Isp = Isps.Find(isp),
        Asn = asn,
        Network = network,
        AllowedNetworks = allowedNetworks,
    };

    /// <summary>
    /// Picks the less loaded of two eligible nodes: matching <paramref name="filter"/>, not out,
    /// not banned for <paramref name="domain"/>, not in <paramref name="exclude"/> (node indexes
    /// this request already tried).
    /// </summary>
    public bool TrySelect(in NodeFilter filter, ReadOnlySpan<int> exclude, string? domain, long now, out Node? chosen)
    {
        ReadOnlySpan<int> list = Candidates(filter);
        Node? first = null;
        Node? second = null;
        int n = list.Length;
        if (n > 2 * Probes)
        {
            for (int probe = 0; probe < Probes && second is null; probe++)
            {
                Node candidate = _nodes[list[Random.Shared.Next(n)]];
                if (candidate != first && IsEligible(candidate, filter, exclude, domain, now))
                {
                    if (first is null)
                    {
                        first = candidate;
                    }
                    else
                    {
                        second = candidate;
                    }
                }
            }
        }

        if (second is null && n > 0)
        {
            // Few candidates, or few eligible among many: walk the whole list once from a random
            // start so every eligible node can be found.
            int start = Random.Shared.Next(n);
            for (int i = 0; i < n && second is null; i++)
            {
                Node candidate = _nodes[list[(start + i) % n]];
                if (candidate != first && IsEligible(candidate, filter, exclude, domain, now))
                {
                    if (first is null)
                    {
                        first = candidate;
                    }
                    else
                    {
                        second = candidate;
                    }
                }
            }
        }

        chosen = second is null ? first : LessLoaded(first!, second);
        if (_gateways.Length > 0 && SelectGateway(filter, exclude, domain, now) is { } gateway)
        {
            chosen = chosen is null ? gateway : LessLoaded(chosen, gateway);
        }

        return chosen is not null;
    }

    private Node? SelectGateway(in NodeFilter filter, ReadOnlySpan<int> exclude, string? domain, long now)
    {
        int n = _gateways.Length;
        int start = n == 1 ? 0 : Random.Shared.Next(n);
        for (int i = 0; i < n; i++)
        {
            Node candidate = _nodes[_gateways[(start + i) % n]];
            if (IsEligible(candidate, filter, exclude, domain, now))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>After a failed selection: which catalog answer fits (errors.md order: NO_PROXY, NODE_NOT_FOUND, NODE_UNAVAILABLE).</summary>
    public SelectStatus Explain(in NodeFilter filter, long now, out FilterDimensions unmatched)
    {
        unmatched = FilterDimensions.None;
        if (!AnyOnline(now))
        {
            return SelectStatus.NoProxy;
        }

        foreach (int index in Candidates(filter))
        {
            if (filter.Matches(_nodes[index]))
            {
                return SelectStatus.Unavailable;
            }
        }

        foreach (int index in _gateways)
        {
            if (filter.Matches(_nodes[index]))
            {
                return SelectStatus.Unavailable;
            }
        }

        unmatched = Unmatched(filter);
        return SelectStatus.NoMatch;
    }

    private bool AnyOnline(long now)
    {
        foreach (int index in _all)
        {
            if (_nodes[index].IsAvailable(now))
            {
                return true;
            }
        }

        foreach (int index in _gateways)
        {
            if (_nodes[index].IsAvailable(now))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The filters no node satisfies on its own; when each is satisfied by some node but never
    /// all together, the combination is what is unmatched, so every filter is named.
    /// </summary>
    private FilterDimensions Unmatched(in NodeFilter filter)
    {
        FilterDimensions set = filter.Dimensions;
        FilterDimensions alone = FilterDimensions.None;
        if ((set & FilterDimensions.Country) != 0 && !_byCountry.ContainsKey(filter.Country))
        {
            alone |= FilterDimensions.Country;
        }

        if ((set & FilterDimensions.Region) != 0 && !_byRegion.ContainsKey(filter.Region))
        {
            alone |= FilterDimensions.Region;
        }

        if ((set & FilterDimensions.City) != 0 && !_byCity.ContainsKey(filter.City))
        {
            alone |= FilterDimensions.City;
        }

        if ((set & FilterDimensions.Isp) != 0 && !_byIsp.ContainsKey(filter.Isp))
        {
            alone |= FilterDimensions.Isp;
        }

        if ((set & FilterDimensions.Asn) != 0 && !_byAsn.ContainsKey(filter.Asn))
        {
            alone |= FilterDimensions.Asn;
        }

        if ((set & FilterDimensions.Network) != 0 && _byNetwork[(int)filter.Network].Length == 0)
        {
            alone |= FilterDimensions.Network;
        }

        // A gateway satisfies on its own every filter it can express or its tags meet; a sticky
        // session is satisfied by any plain node, and by a gateway only when it can hold one.
        bool sessionServed = filter.SessionSeconds == 0 || _all.Length > 0;
        FilterDimensions gatewaySession = FilterDimensions.None;
        foreach (int index in _gateways)
        {
            Node gateway = _nodes[index];
            FilterDimensions cannot = gateway.Gateway!.Cannot(filter, gateway);
            alone &= cannot;
            sessionServed |= (cannot & FilterDimensions.Session) == 0;
            gatewaySession |= cannot & FilterDimensions.Session;
        }

        if (!sessionServed)
        {
            alone |= FilterDimensions.Session;
        }

        // Nothing fails alone: the combination does; a gateway that could serve the filters but not
        // the sticky session is part of why.
        return alone != FilterDimensions.None ? alone : set | gatewaySession;
    }

    private bool IsEligible(Node node, in NodeFilter filter, ReadOnlySpan<int> exclude, string? domain, long now) =>
        node.IsAvailable(now) && filter.Matches(node) && !exclude.Contains(node.Index)
        && (domain is null || !Bans.IsBanned(node.Index, domain, now));

    // Weighted comparison of in-flight work without division: a/wa < b/wb ⇔ a·wb < b·wa.
    private static Node LessLoaded(Node a, Node b) =>
        (long)a.InFlight * b.Weight <= (long)b.InFlight * a.Weight ? a : b;

    /// <summary>The shortest posting list among the filter's dimensions (all nodes when none is set).</summary>
    private ReadOnlySpan<int> Candidates(in NodeFilter filter)
    {
        ReadOnlySpan<int> best = _all;
        if (filter.Country != 0)
        {
            best = Shorter(best, _byCountry.GetValueOrDefault(filter.Country));
        }

        if (filter.Region != TagTable.None)
        {
            best = Shorter(best, _byRegion.GetValueOrDefault(filter.Region));
        }

        if (filter.City != TagTable.None)
        {
            best = Shorter(best, _byCity.GetValueOrDefault(filter.City));
        }

        if (filter.Isp != TagTable.None)
        {
            best = Shorter(best, _byIsp.GetValueOrDefault(filter.Isp));
        }

        if (filter.Asn != 0)
        {
            best = Shorter(best, _byAsn.GetValueOrDefault(filter.Asn));
        }

        if (filter.Network is not (RuleNetwork.Unset or RuleNetwork.Any))
        {
            best = Shorter(best, _byNetwork[(int)filter.Network]);
        }

        return best;
    }

    private static ReadOnlySpan<int> Shorter(ReadOnlySpan<int> best, int[]? list) =>
        list is null ? [] : list.Length < best.Length ? list : best;

    // A loop, not LINQ's GroupBy: a node source reload of 100,000 nodes builds five of these.
    private Dictionary<TKey, int[]> Postings<TKey>(Func<Node, TKey> key, Func<TKey, bool> tagged)
        where TKey : notnull
    {
        var lists = new Dictionary<TKey, List<int>>();
        foreach (int index in _all)
        {
            TKey value = key(_nodes[index]);
            if (!tagged(value))
            {
                continue;
            }

            if (!lists.TryGetValue(value, out List<int>? list))
            {
                lists[value] = list = [];
            }

            list.Add(index);
        }

        var postings = new Dictionary<TKey, int[]>(lists.Count);
        foreach ((TKey value, List<int> list) in lists)
        {
            postings[value] = [.. list];
        }

        return postings;
    }
}
