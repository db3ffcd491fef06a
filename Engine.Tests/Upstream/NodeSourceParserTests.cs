using Engine.Hosting;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>The formats sellers ship, each bad line named by its number, the rest loaded.</summary>
public sealed class NodeSourceParserTests
{
    private static readonly NodeSourceOptions Source = new() { Path = "/etc/engine/de.txt", Country = "de", Network = "dc", IdPrefix = "de-" };

    [Fact]
    public void Lines_EveryFormatSellersShip()
    {
        NodeSourceResult result = NodeSourceParser.Parse("""
            # comment
            10.0.0.1:3128

            10.0.0.2:3128:user2:p:ss
            user3:pass3@10.0.0.3:8080
            http://user4:pa%40ss@10.0.0.4:8080
            socks5://10.0.0.5:1080
            socks5h://u6:p6@proxy.example.net:1080
            [2001:db8::7]:3128:u7:p7
            """, Source);

        Assert.Empty(result.Problems);
        Assert.Equal(
            ["de-10.0.0.1-3128", "de-10.0.0.2-3128-user2", "de-10.0.0.3-8080-user3", "de-10.0.0.4-8080-user4", "de-10.0.0.5-1080", "de-proxy.example.net-1080-u6", "de-2001_db8__7-3128-u7"],
            result.Nodes.Select(n => n.Id));
        NodeOptions second = result.Nodes[1];
        Assert.Equal(("10.0.0.2:3128", "user2", "p:ss", NodeType.Http), (second.Address, second.Username, second.Password, second.Type));
        Assert.Equal("pa@ss", result.Nodes[3].Password);
        Assert.Equal(NodeType.Socks5, result.Nodes[4].Type);
        Assert.Equal(NodeType.Socks5, result.Nodes[5].Type);
        Assert.Equal("[2001:db8::7]:3128", result.Nodes[6].Address);
        Assert.All(result.Nodes, n => Assert.Equal(("de", "dc", "source:/etc/engine/de.txt"), (n.Country, n.Network, n.Origin)));
    }

    [Fact]
    public void Lines_BadLinesAreNamedByNumber_AndSkipped()
    {
        NodeSourceResult result = NodeSourceParser.Parse("10.0.0.1:3128\nnot a proxy\nftp://10.0.0.2:21\n10.0.0.3:0\n10.0.0.1:3128\nuser@10.0.0.4:80\n10.0.0.5:3128\n", Source);

        Assert.Equal(["de-10.0.0.1-3128", "de-10.0.0.5-3128"], result.Nodes.Select(n => n.Id));
        Assert.Equal([2, 3, 4, 5, 6], result.Problems.Select(p => p.Line));
        Assert.Contains("duplicate of line 1", result.Problems[3].Message, StringComparison.Ordinal);
        Assert.Contains("scheme 'ftp'", result.Problems[1].Message, StringComparison.Ordinal);
        Assert.False(result.IsFatal);
    }

    [Fact]
    public void Csv_TagColumnsOverrideTheSourcesDefaults()
    {
        NodeSourceResult result = NodeSourceParser.Parse("""
            host,port,username,password,country,city,network,asn
            10.0.0.1,3128,u1,"p,1",us,new_york,res,7922
            10.0.0.2,3128,,,,,,
            10.0.0.3,3128,u3,p3,xx,,,
            10.0.0.4,3128,u4
            """, Source with { Format = NodeSourceFormat.Csv });

        Assert.Equal(2, result.Nodes.Count);
        NodeOptions first = result.Nodes[0];
        Assert.Equal(("10.0.0.1:3128", "p,1", "us", "new_york", "res", 7922L), (first.Address, first.Password, first.Country, first.City, first.Network, first.Asn));
        Assert.Equal(("de", "dc"), (result.Nodes[1].Country, result.Nodes[1].Network));
        Assert.Equal([4, 5], result.Problems.Select(p => p.Line));
    }

    [Fact]
    public void Csv_AnUnknownColumnRefusesTheFile()
    {
        NodeSourceResult result = NodeSourceParser.Parse("host,port,zip\n10.0.0.1,3128,10001\n", Source with { Format = NodeSourceFormat.Csv });
        Assert.True(result.IsFatal);
        Assert.Equal(1, result.Problems[0].Line);
    }

    [Fact]
    public void Json_ObjectsLikeConfigNodes_ProblemsByLine()
    {
        NodeSourceResult result = NodeSourceParser.Parse("""
            [
              { "Id": "a", "Type": "socks5", "Address": "10.0.0.1:1080", "Country": "fr", "Asn": 3215 },
              { "Address": "10.0.0.2:3128", "Network": "satellite" },
              { "Address": "10.0.0.3:3128", "City": "Paris" },
              { "Address": "10.0.0.4:3128" }
            ]
            """, Source with { Format = NodeSourceFormat.Json });

        Assert.Equal(["de-a", "de-10.0.0.4-3128"], result.Nodes.Select(n => n.Id));
        Assert.Equal((NodeType.Socks5, "fr", 3215L), (result.Nodes[0].Type, result.Nodes[0].Country, result.Nodes[0].Asn));
        Assert.Equal([3, 4], result.Problems.Select(p => p.Line));
    }

    [Fact]
    public void Json_BrokenSyntaxRefusesTheFile_WithItsLine()
    {
        NodeSourceResult result = NodeSourceParser.Parse("[\n { \"Address\": \"10.0.0.1:3128\" },\n { \"Address\": \n", Source with { Format = NodeSourceFormat.Json });
        Assert.True(result.IsFatal);
        Assert.True(result.Problems[^1].Line >= 3, $"line {result.Problems[^1].Line}");
    }
}
