using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Engine.Hosting;

namespace Engine.Tests.Hosting;

[Collection(Engine.Tests.Connection.SerialCollection.Name)]
public class EngineAppTests
{
    private static string WriteConfig(string json)
    {
        string path = Path.Combine(Path.GetTempPath(), $"engine-test-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private const string Broken = """
        { "Engine": {
            "Listeners": [ { "Endpoint": "127.0.0.1:99999", "Protocol": "htp" } ],
            "Limits": { "MaxConnections": "lots", "RequestHeadTimeout": "soon" },
            "Packages": [ { "Id": "a", "Key": "" }, { "Id": "a", "Key": "k" } ],
            "Nodes": [ { "Id": "n", "Type": "http" } ],
            "Tpyo": 1 } }
        """;

    [Fact]
    public async Task CheckConfig_BrokenFile_NamesEveryProblemByPath_AndExitsNonZero()
    {
        string path = WriteConfig(Broken);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        int exit = await EngineApp.RunAsync(["--check-config", path], stdout, stderr);

        Assert.Equal(EngineApp.ExitInvalidConfig, exit);
        string report = stderr.ToString();
        Assert.Contains("Engine.Listeners[0].Endpoint:", report, StringComparison.Ordinal);
        Assert.Contains("Engine.Listeners[0].Protocol:", report, StringComparison.Ordinal);
        Assert.Contains("Engine.Limits.MaxConnections:", report, StringComparison.Ordinal);
        Assert.Contains("Engine.Limits.RequestHeadTimeout:", report, StringComparison.Ordinal);
        Assert.Contains("Engine.Packages[0].Key:", report, StringComparison.Ordinal);
        Assert.Contains("Engine.Packages[1].Id:", report, StringComparison.Ordinal);
        Assert.Contains("Engine.Nodes[0].Address:", report, StringComparison.Ordinal);
        Assert.Contains("Engine.Tpyo:", report, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_InvalidFile_RefusesToStartWithTheSameMessages()
    {
        string path = WriteConfig(Broken);
        var check = new StringWriter();
        await EngineApp.RunAsync(["--check-config", path], new StringWriter(), check);
        var run = new StringWriter();

        int exit = await EngineApp.RunAsync(["--config", path], new StringWriter(), run);

        Assert.Equal(EngineApp.ExitInvalidConfig, exit);
        string[] Problems(StringWriter w) => w.ToString().Split('\n').Where(l => l.StartsWith("Engine.", StringComparison.Ordinal)).ToArray();
        Assert.Equal(Problems(check), Problems(run));
    }

    [Fact]
    public async Task CheckConfig_MissingFile_And_NotJson_AreReportedWithoutTrace()
    {
        var stderr = new StringWriter();
        Assert.Equal(EngineApp.ExitInvalidConfig, await EngineApp.RunAsync(["--check-config", "/nonexistent/engine.json"], new StringWriter(), stderr));
        string notJson = WriteConfig("{ this is not json");
        Assert.Equal(EngineApp.ExitInvalidConfig, await EngineApp.RunAsync(["--check-config", notJson], new StringWriter(), stderr));
        Assert.DoesNotContain("   at ", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void EmbeddedDefault_IsValid()
    {
        var result = EngineConfigReader.Read(EngineApp.BuildConfiguration(null, []));
        Assert.Empty(result.Problems);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), result.Options.Listeners[0].Endpoint);
        Assert.Equal("demo", result.Options.Packages[0].Id);
    }

    [Fact]
    public void CommandLineOverrides_LayerOnTopOfTheFile()
    {
        var result = EngineConfigReader.Read(EngineApp.BuildConfiguration(null, [new("Engine:Limits:MaxConnections", "5000")]));
        Assert.Empty(result.Problems);
        Assert.Equal(5000, result.Options.Limits.MaxConnections);
    }

    [Fact]
    public async Task Run_ServesOnItsListener_AndStopsCleanlyOnCancel()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        string path = WriteConfig($$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{{port}}", "Protocol": "http" } ],
                "Limits": { "ShutdownDrain": "00:00:02" },
                "Packages": [ { "Id": "demo", "Key": "demo-key", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "local", "Type": "direct" } ] } }
            """);
        using var stop = new CancellationTokenSource();
        var stdout = new StringWriter();
        Task<int> running = EngineApp.RunAsync(["--config", path], TextWriter.Synchronized(stdout), new StringWriter(), stop.Token);

        string answer = "";
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                NetworkStream stream = client.GetStream();
                await stream.WriteAsync("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"u8.ToArray());
                answer = await new StreamReader(stream).ReadToEndAsync();
                break;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        Assert.StartsWith("HTTP/1.1 407 ", answer, StringComparison.Ordinal);
        Assert.Contains($"curl -x http://country-any:demo-key@127.0.0.1:{port} http://example.com/", stdout.ToString(), StringComparison.Ordinal);
        await stop.CancelAsync();
        Assert.Equal(EngineApp.ExitOk, await running.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Run_UnderSystemd_NotifiesReadyAfterBind_AndStoppingOnShutdown()
    {
        using var notify = new Engine.Tests.Fixtures.NotifySocket();
        string path = WriteConfig("""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:0", "Protocol": "http" } ],
                "Limits": { "ShutdownDrain": "00:00:01" },
                "Packages": [ { "Id": "demo", "Key": "demo-key" } ],
                "Nodes": [ { "Id": "local", "Type": "direct" } ] } }
            """);
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", notify.Path);
        try
        {
            using var stop = new CancellationTokenSource();
            Task<int> running = EngineApp.RunAsync(["--config", path], new StringWriter(), new StringWriter(), stop.Token);
            Assert.Equal("READY=1", await notify.ReceiveAsync(TimeSpan.FromSeconds(30)));
            await stop.CancelAsync();
            Assert.Equal("STOPPING=1", await notify.ReceiveAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(EngineApp.ExitOk, await running.WaitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
        }
    }
}
