using Engine.Hosting;
using Engine.Upstream;

namespace Engine.Tests.Hosting;

/// <summary>config.md's <c>Gateway</c> and <c>NodeSources</c> keys: the spec's own example reads, mistakes are named by JSON path.</summary>
public sealed class NodeSourceAndGatewayConfigTests
{
    private static EngineConfigResult Read(string nodes, string sources = "") => ConfigFixtures.Read($$"""
        { "Engine": {
            "Listeners": [ { "Endpoint": "127.0.0.1:8080", "Protocol": "http" } ],
            "Packages": [ { "Id": "demo", "Key": "demo-key" } ],
            "Nodes": [ {{nodes}} ]{{sources}} } }
        """);

    [Fact]
    public void TheSpecsGatewayAndNodeSource_Read()
    {
        EngineConfigResult result = Read(
            """
            { "Id": "soax", "Type": "http", "Address": "proxy.provider.example:5000",
              "Gateway": { "UsernameTemplate": "package-123-country-{country}[-sessionid-{session}]", "Password": "secret" } }
            """,
            """
            , "NodeSources": [ { "Path": "/etc/engine/nodes-de.txt", "Format": "lines", "Type": "http", "Country": "de", "Network": "dc", "IdPrefix": "de-" } ]
            """);

        Assert.Empty(result.Problems);
        GatewayOptions gateway = result.Options.Nodes[0].Gateway!;
        Assert.Equal(("package-123-country-{country}[-sessionid-{session}]", "secret"), (gateway.UsernameTemplate, gateway.Password));
        NodeSourceOptions source = Assert.Single(result.Options.NodeSources);
        Assert.Equal(("/etc/engine/nodes-de.txt", NodeSourceFormat.Lines, NodeType.Http, "de", "dc", "de-"),
            (source.Path, source.Format, source.Type, source.Country, source.Network, source.IdPrefix));
    }

    [Theory]
    [InlineData("""{ "Id": "g", "Type": "http", "Address": "a:1", "Gateway": { "UsernameTemplate": "u-{zip}", "Password": "p" } }""", "Engine.Nodes[0].Gateway", "unknown placeholder {zip}")]
    [InlineData("""{ "Id": "g", "Type": "http", "Address": "a:1", "Gateway": { "Preset": "nope", "Account": "1", "Password": "p" } }""", "Engine.Nodes[0].Gateway", "is not one of")]
    [InlineData("""{ "Id": "g", "Type": "http", "Address": "a:1", "Gateway": { "Preset": "soax", "Password": "p" } }""", "Engine.Nodes[0].Gateway", "needs Account")]
    [InlineData("""{ "Id": "g", "Type": "direct", "Gateway": { "UsernameTemplate": "u", "Password": "p" } }""", "Engine.Nodes[0].Gateway", "only applies to http and socks5")]
    [InlineData("""{ "Id": "g", "Type": "http", "Address": "a:1", "Username": "u", "Password": "p", "Gateway": { "UsernameTemplate": "u", "Password": "p" } }""", "Engine.Nodes[0].Username", "renders its credentials")]
    [InlineData("""{ "Id": "g", "Type": "http", "Address": "a:1", "Gateway": { "UsernameTemplate": "u", "Pasword": "p" } }""", "Engine.Nodes[0].Gateway.Pasword", "")]
    public void GatewayMistakes_AreNamedByPath(string node, string path, string message)
    {
        EngineConfigResult result = Read(node);
        ConfigProblem problem = Assert.Single(result.Problems, p => p.Path == path);
        Assert.Contains(message, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NodeSources_AllowAnEmptyNodes_AndNameTheirMistakes()
    {
        Assert.Empty(Read("", """, "NodeSources": [ { "Path": "/tmp/a.txt" } ]""").Problems);
        Assert.Contains(Read("").Problems, p => p.Path == "Engine.Nodes");

        EngineConfigResult result = Read("", """
            , "NodeSources": [
                { "Path": "/tmp/a.txt", "Type": "direct", "Country": "uk", "Format": "xml", "IdPrefix": "a b" },
                { "Path": "/tmp/a.txt" } ]
            """);
        string[] paths = [.. result.Problems.Select(p => p.Path)];
        Assert.Contains("Engine.NodeSources[0].Type", paths);
        Assert.Contains("Engine.NodeSources[0].Country", paths);
        Assert.Contains("Engine.NodeSources[0].Format", paths);
        Assert.Contains("Engine.NodeSources[0].IdPrefix", paths);
        Assert.Contains("Engine.NodeSources[1].Path", paths);
    }
}
