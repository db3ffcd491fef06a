using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Hosting;

/// <summary>
/// Issue 19.1: a start must not write a package key anywhere (console, logger, access log).
/// A real engine process, so everything it writes to stdout and stderr is captured.
/// </summary>
public sealed class StartupSecretsTests
{
    [Fact]
    public async Task Start_WritesNoPackageKey_OnlyAPlaceholder()
    {
        string key = "k-" + Guid.NewGuid().ToString("N");
        await using EngineProcess engine = await EngineProcess.StartAsync($$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
                "Limits": { "ShutdownDrain": "00:00:01" },
                "Packages": [ { "Id": "acme", "Key": "{{key}}", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "local", "Type": "direct" } ] } }
            """);

        // One request with the key: its access-log line must not carry it either.
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(engine.EndPoint);
            string credentials = Convert.ToBase64String(Encoding.ASCII.GetBytes("country-any:" + key));
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
                $"GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\nProxy-Authorization: Basic {credentials}\r\nConnection: close\r\n\r\n"));
            string answer = await new StreamReader(client.GetStream()).ReadToEndAsync();
            Assert.StartsWith("HTTP/1.1 403 ", answer, StringComparison.Ordinal);
        }

        var clock = Stopwatch.StartNew();
        while (!(engine.Output.Contains("Ready", StringComparison.Ordinal) && engine.Output.Contains("\"status\":403", StringComparison.Ordinal))
               && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50);
        }

        string output = engine.Output;
        Assert.Contains("curl -x http://country-any:KEY-OF-acme@127.0.0.1:", output, StringComparison.Ordinal);
        Assert.Contains("\"status\":403", output, StringComparison.Ordinal);
        Assert.DoesNotContain(key, output, StringComparison.Ordinal);
        Assert.DoesNotContain(key[2..], output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void CurlLine_PrintsOnlyTheEmbeddedDemoKey()
    {
        var endPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 8080);
        Assert.Equal("curl -x http://country-any:demo-key@127.0.0.1:8080 http://example.com/",
            Engine.Hosting.ProxyHostedService.CurlLine(endPoint, [new Engine.Hosting.PackageOptions { Id = "demo", Key = Engine.Hosting.EmbeddedDefault.DemoKey }]));
        Assert.Equal("curl -x http://country-us:KEY-OF-p1@127.0.0.1:8080 http://example.com/",
            Engine.Hosting.ProxyHostedService.CurlLine(endPoint, [new Engine.Hosting.PackageOptions { Id = "p1", Key = "secret", DefaultRules = "country-us" }]));
    }
}
