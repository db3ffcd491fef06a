using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Engine.Hosting;
using Engine.Rules;
using Engine.Upstream;

namespace Engine.Benchmarks.Upstream;

/// <summary>
/// A seller's list of 100,000 <c>host:port:user:pass</c> lines: reading it (what a file change
/// costs before the swap) and reading it plus building the pool (the whole reload; issue 17's goal
/// is under a second). Then selection in that pool with three provider gateways beside it.
/// </summary>
[MemoryDiagnoser]
public class NodeSourceBenchmarks
{
    private static readonly NodeSourceOptions Source = new() { Path = "/bench/nodes.txt", Country = "de", Network = "dc", IdPrefix = "de-" };

    private static readonly string[] Presets = ["soax", "oxylabs", "brightdata"];

    private string _text = null!;
    private NodePool _pool = null!;
    private NodePool _listOnly = null!;
    private NodeFilter _listCountry;
    private NodeFilter _country;
    private NodeFilter _gatewayOnly;

    [GlobalSetup]
    public void Setup()
    {
        _text = Lines(100_000);
        List<NodeOptions> nodes = NodeSourceParser.Parse(_text, Source).Nodes;
        _listOnly = new NodePool(nodes, NodeHealthPolicy.Default(TimeProvider.System));
        _listCountry = _listOnly.CreateFilter(NodeTags.PackCountry("de"), default, default, default, 0, RuleNetwork.Unset, 0);
        nodes.AddRange(Presets.Select(preset => new NodeOptions
        {
            Id = "gw-" + preset, Type = NodeType.Http, Address = "127.0.0.1:5000", Weight = 100,
            Gateway = new GatewayOptions { Preset = preset, Account = "1", Password = "p" },
        }));
        _pool = new NodePool(nodes, NodeHealthPolicy.Default(TimeProvider.System));
        _country = _pool.CreateFilter(NodeTags.PackCountry("de"), default, default, default, 0, RuleNetwork.Unset, 0);
        // No listed node is in Japan: only the gateways can serve it.
        _gatewayOnly = _pool.CreateFilter(NodeTags.PackCountry("jp"), default, default, default, 0, RuleNetwork.Unset, 0);
    }

    internal static string Lines(int count)
    {
        var text = new StringBuilder(count * 40);
        for (int i = 0; i < count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}:3128:user{i}:pass{i}\n");
        }

        return text.ToString();
    }

    [Benchmark]
    public int Parse100k() => NodeSourceParser.Parse(_text, Source).Nodes.Count;

    [Benchmark]
    public int ParseAndBuildPool100k() => new NodePool(NodeSourceParser.Parse(_text, Source).Nodes, NodeHealthPolicy.Default(TimeProvider.System)).Count;

    [Benchmark]
    public int SelectByCountryListOnly() => _listOnly.TrySelect(_listCountry, [], null, 0, out Node? node) ? node!.Index : -1;

    [Benchmark]
    public int SelectByCountryWithGateways() => _pool.TrySelect(_country, [], null, 0, out Node? node) ? node!.Index : -1;

    [Benchmark]
    public int SelectGatewayOnly() => _pool.TrySelect(_gatewayOnly, [], null, 0, out Node? node) ? node!.Index : -1;
}
