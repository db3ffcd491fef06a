using System.Net;
using System.Text;
using Engine.Rules;

namespace Engine.Upstream;

/// <summary>
/// One way out (rules.md "Nodes"): direct egress or an upstream HTTP/SOCKS5 proxy, with the tags
/// rules filter on. Configuration is immutable; health and load are the only moving parts and
/// are updated lock-free because every request touches them.
/// </summary>
internal sealed class Node
{
    private int _inFlight;
    private int _consecutiveFailures;
    private int _ejections;
    private long _outUntil;
    private int _adminState;   // NodeAdminState

    public Node(int index, NodeOptions options, TagIds tags)
    {
        Index = index;
        Id = options.Id;
        IdBytes = Encoding.ASCII.GetBytes(options.Id);
        Type = options.Type;
        LocalAddress = options.LocalAddress;
        Weight = options.Weight;
        Country = NodeTags.PackCountry(options.Country);
        Region = tags.Region;
        City = tags.City;
        Isp = tags.Isp;
        Asn = (uint)(options.Asn ?? 0);
        Network = NodeTags.ParseNetwork(options.Network);
        Username = options.Username;
        Password = options.Password;
        Origin = options.Origin;
        if (options.Gateway is not null)
        {
            // Validated by the config reader; a node built by hand in a test with a bad gateway fails loudly.
            Gateway = Upstream.Gateway.Create(options.Gateway, out string? error) ?? throw new ArgumentException(error, nameof(options));
        }

        if (options.Address is not null && Http.HostPort.TryParse(options.Address, out string host, out int port))
        {
            Host = host;
            Port = port;
        }

        if (options.Type == NodeType.Http && options.Username is not null)
        {
            ProxyAuthorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(options.Username + ":" + options.Password));
            ProxyAuthorizationBytes = Encoding.ASCII.GetBytes(ProxyAuthorization);
        }
    }

    /// <summary>A provider gateway: matches what its templates express, renders credentials per request.</summary>
    public Gateway? Gateway { get; }

    /// <summary><c>config</c>, <c>source:PATH</c> or <c>admin</c>.</summary>
    public string Origin { get; }

    /// <summary>Position in the pool's node array; the index's posting lists hold these.</summary>
    public int Index { get; }

    public string Id { get; }

    public byte[] IdBytes { get; }

    public NodeType Type { get; }

    /// <summary>Upstream proxy host (http and socks5 nodes).</summary>
    public string? Host { get; }

    public int Port { get; }

    public string? Username { get; }

    /// <summary>Never logged.</summary>
    public string? Password { get; }

    /// <summary><c>Basic …</c> for an http node with credentials; never logged.</summary>
    public string? ProxyAuthorization { get; }

    /// <summary><see cref="ProxyAuthorization"/> as header bytes for forwarded requests.</summary>
    public byte[]? ProxyAuthorizationBytes { get; }

    /// <summary>Source address of the engine's sockets (direct nodes).</summary>
    public IPAddress? LocalAddress { get; }

    /// <summary>Share of load: a node with weight 2 may carry twice the in-flight work of weight 1; 0 = never chosen.</summary>
    public int Weight { get; }

    /// <summary>Two lowercase letters packed by <see cref="NodeTags.PackCountry"/>; 0 = untagged.</summary>
    public ushort Country { get; }

    public int Region { get; }

    public int City { get; }

    public int Isp { get; }

    public uint Asn { get; }

    public RuleNetwork Network { get; }

    /// <summary>Requests and tunnels using this node right now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>Timestamp (TimeProvider ticks) until which the node is out; 0 or past = available.</summary>
    public long OutUntil => Volatile.Read(ref _outUntil);

    public bool IsAvailable(long now) => Weight > 0 && Volatile.Read(ref _adminState) == (int)NodeAdminState.Active && Volatile.Read(ref _outUntil) <= now;

    /// <summary>Set by an operator (admin API) or a reload: draining and removed nodes get no new work; what runs finishes.</summary>
    public NodeAdminState AdminState
    {
        get => (NodeAdminState)Volatile.Read(ref _adminState);
        set => Volatile.Write(ref _adminState, (int)value);
    }

    /// <summary>Consecutive ejections without a success (the back-off level).</summary>
    public int Ejections => Volatile.Read(ref _ejections);

    private readonly Lock _ejectLock = new();

    public void Enter() => Interlocked.Increment(ref _inFlight);

    public void Leave() => Interlocked.Decrement(ref _inFlight);

    /// <summary>A request got through this node: whatever back-off it was in ends.</summary>
    public void RecordSuccess()
    {
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
            Volatile.Write(ref _ejections, 0);
            Volatile.Write(ref _outUntil, 0);
        }
    }

    /// <summary>
    /// A probe reached the node: it is back now, half-open. Its failure count and ejection level
    /// stay, so a failure before any success takes it out again for twice as long.
    /// </summary>
    public void Restore() => Volatile.Write(ref _outUntil, 0);

    /// <summary>
    /// The node itself failed (refused, reset, bad handshake, its own 407). After
    /// <see cref="NodeHealthPolicy.FailuresToEject"/> in a row it is out for a cool-down. One
    /// failure episode is one ejection: failures that arrive while the node is already out (the
    /// rest of a burst of in-flight requests, pinned sessions) change nothing. The cool-down
    /// doubles only when the node fails again after coming back without a success in between
    /// (Envoy's outlier detection: the ejection time grows with consecutive ejections).
    /// </summary>
    /// <returns>True when this failure took the node out.</returns>
    public bool RecordFailure(NodeHealthPolicy policy, long now)
    {
        if (Volatile.Read(ref _outUntil) > now)
        {
            return false;   // same episode: the node is already out
        }

        int failures = Interlocked.Increment(ref _consecutiveFailures);
        // A gateway's failures come from many provider sessions (many exits): one bad exit must not
        // take out the provider, so it needs more failures in a row, across sessions, to be ejected.
        int threshold = Gateway is null ? policy.FailuresToEject : Math.Max(policy.FailuresToEject, Gateway.FailuresToEject);
        if (failures < threshold)
        {
            return false;
        }

        lock (_ejectLock)
        {
            // Concurrent failures can all pass the threshold: the first one ejects.
            if (Volatile.Read(ref _outUntil) > now)
            {
                return false;
            }

            int ejections = Interlocked.Increment(ref _ejections);
            long cooldown = policy.EjectBase << Math.Min(ejections - 1, 20);
            Volatile.Write(ref _outUntil, now + Math.Min(cooldown, policy.EjectMax));
            return true;
        }
    }

    /// <summary>Same way out as <paramref name="other"/> (type, address, credentials, source address): a reload may carry its health over.</summary>
    public bool SameExitAs(Node other) =>
        Type == other.Type && Host == other.Host && Port == other.Port && Username == other.Username && Password == other.Password
        && Equals(LocalAddress, other.LocalAddress) && (Gateway is null) == (other.Gateway is null);

    /// <summary>A reload: the new definition of an unchanged exit keeps its failures, back-off and operator state.</summary>
    public void CarryOver(Node previous, bool keepRemoved = false)
    {
        Volatile.Write(ref _consecutiveFailures, previous.ConsecutiveFailures);
        Volatile.Write(ref _ejections, previous.Ejections);
        Volatile.Write(ref _outUntil, previous.OutUntil);
        if (previous.AdminState == NodeAdminState.Draining || (keepRemoved && previous.AdminState == NodeAdminState.Removed))
        {
            AdminState = previous.AdminState;
        }
    }

    public override string ToString() => Id;
}
