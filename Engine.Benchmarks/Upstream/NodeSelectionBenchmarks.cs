using System.Text;
using BenchmarkDotNet.Attributes;
using Engine.Hosting;
using Engine.Rules;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Benchmarks.Upstream;

/// <summary>
/// Picking a node among 100,000 tagged nodes (5 countries, 1,000 cities, 50 ISPs, 200 ASNs, 3
/// networks), as every request without a session does, and resuming a sticky session.
/// Baseline: one random index, the floor of any selection.
/// </summary>
[MemoryDiagnoser]
public class NodeSelectionBenchmarks
{
    private static readonly string[] Countries = ["us", "de", "gb", "fr", "br"];

    private readonly ReadOnlyMemory<byte> _sessionId = Encoding.ASCII.GetBytes("job42");
    private readonly ReadOnlyMemory<byte> _fingerprint = Encoding.ASCII.GetBytes("country-us-city-city_5");
    private NodePool _pool = null!;
    private MemorySessionStore _sessions = null!;
    private NodeFilter _any;
    private NodeFilter _country;
    private NodeFilter _cityAndNetwork;
    private NodeFilter _rare;

    [GlobalSetup]
    public void Setup()
    {
        _pool = CreatePool(100_000);
        _any = _pool.CreateFilter(0, default, default, default, 0, RuleNetwork.Unset, 0);
        _country = _pool.CreateFilter(NodeTags.PackCountry("us"), default, default, default, 0, RuleNetwork.Unset, 0);
        _cityAndNetwork = _pool.CreateFilter(NodeTags.PackCountry("us"), default, "city_5"u8, default, 0, RuleNetwork.Mob, 0);
        // isp_7 ∩ asn 64507 ∩ res: the ISP's list (2,000) is scanned for the few that also match.
        _rare = _pool.CreateFilter(0, default, default, "isp_7"u8, 64507, RuleNetwork.Res, 0);
        _sessions = new MemorySessionStore(TimeProvider.System);
        _sessions.OpenAsync("bench", _sessionId, _fingerprint, new SessionTerms(86400, 0, 0, 0)).AsTask().GetAwaiter().GetResult();
        _sessions.CommitAsync("bench", _sessionId, null, "n5").AsTask().GetAwaiter().GetResult();
    }

    internal static NodePool CreatePool(int count) => new(
        Enumerable.Range(0, count).Select(i => new NodeOptions
        {
            Id = "n" + i,
            Type = NodeType.Direct,
            Country = Countries[i % Countries.Length],
            City = "city_" + (i % 1000),
            Isp = "isp_" + (i % 50),
            Asn = 64500 + (i % 200),
            Network = (i % 3) switch { 0 => "res", 1 => "mob", _ => "dc" },
        }),
        NodeHealthPolicy.Default(TimeProvider.System));

    [Benchmark(Baseline = true)]
    public int RandomIndex() => Random.Shared.Next(_pool.Count);

    [Benchmark]
    public int AnyNode() => _pool.TrySelect(_any, [], null, 0, out Node? node) ? node!.Index : -1;

    [Benchmark]
    public int ByCountry() => _pool.TrySelect(_country, [], "example.com", 0, out Node? node) ? node!.Index : -1;

    [Benchmark]
    public int ByCountryCityNetwork() => _pool.TrySelect(_cityAndNetwork, [], "example.com", 0, out Node? node) ? node!.Index : -1;

    [Benchmark]
    public int RareCombination() => _pool.TrySelect(_rare, [], null, 0, out Node? node) ? node!.Index : -1;

    [Benchmark]
    public int ResumeSession()
    {
        ValueTask<SessionOpened> open = _sessions.OpenAsync("bench", _sessionId, _fingerprint, new SessionTerms(86400, 0, 0, 0));
        return open.IsCompletedSuccessfully && open.Result.NodeId is { } id ? _pool.Find(id)!.Index : -1;
    }
}
