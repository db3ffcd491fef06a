using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;

namespace Engine.Tests.Upstream;

/// <summary>
/// A provider gateway end to end: a second engine process plays the provider (its rule language
/// is what the template renders into, its access log shows the rendered username), the engine
/// under test runs in-process in front of it.
/// </summary>
[Collection("Serial")]
public sealed class GatewayEndToEndTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("engine-gateway-").FullName;
    private readonly CancellationTokenSource _stop = new();
    private EngineProcess? _provider;
    private Task<int>? _front;
    private IPEndPoint _frontEndPoint = null!;
    private string _providerLog = null!;

    public async Task InitializeAsync()
    {
        _providerLog = Path.Combine(_directory, "provider-access.log");
        // The provider: two exits tagged by country, its own sticky sessions, access log to a file.
        _provider = await EngineProcess.StartAsync($$"""
            { "Engine": {
                "Name": "provider",
                "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [] },
                "AccessLog": { "Path": "{{_providerLog}}" },
                "Packages": [ { "Id": "customer", "Key": "provider-key", "DefaultRules": "country-any" } ],
                "Nodes": [
                    { "Id": "exit-us-1", "Type": "direct", "Country": "us" },
                    { "Id": "exit-us-2", "Type": "direct", "Country": "us" },
                    { "Id": "exit-us-3", "Type": "direct", "Country": "us" },
                    { "Id": "exit-de-1", "Type": "direct", "Country": "de" } ] } }
            """);

        int port = UpstreamProcess.FreePort();
        _frontEndPoint = new IPEndPoint(IPAddress.Loopback, port);
        string config = Path.Combine(_directory, "front.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{{port}}", "Protocol": "http" } ],
                "Limits": { "ShutdownDrain": "00:00:01" },
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [] },
                "AccessLog": { "Enabled": false },
                "Packages": [
                    { "Id": "fleet", "Key": "fleet-key", "DefaultRules": "country-any" },
                    { "Id": "other", "Key": "other-key", "DefaultRules": "country-any" } ],
                "Nodes": [
                    { "Id": "provider", "Type": "http", "Address": "{{_provider.EndPoint}}", "Weight": 100,
                      "Gateway": { "UsernameTemplate": "network-any[-country-{country}][-session-{session}-sessionlength-{sessionttl}]", "Password": "provider-key" } } ] } }
            """);
        _front = EngineApp.RunAsync(["--config", config], new StringWriter(), new StringWriter(), _stop.Token);
        await Eventually(async () =>
        {
            try
            {
                return (await ProxyReply.GetAsync(_frontEndPoint, _origin.Port, "country-us", "fleet-key")).Status == 200;
            }
            catch (SocketException)
            {
                return false;
            }
        });

        // The warm-up's line is written when its request ends: wait for it, so each request of a
        // test is matched with its own line.
        await Eventually(async () => (await ProviderLinesAsync()).Length >= 1);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_front is not null)
        {
            await _front;
        }

        if (_provider is not null)
        {
            await _provider.DisposeAsync();
        }

        await _origin.DisposeAsync();
        _stop.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task RulesAreTranslated_SessionsStickThroughTheProvider_RotationGetsANewProviderSession()
    {
        // Rules in our language, rendered into the provider's: the country reaches the provider.
        (ProxyReply plain, ProviderLine de) = await ThroughAsync(Connect, "country-de", "fleet-key");
        Assert.Equal(200, plain.Status);
        Assert.Equal("network-any-country-de", de.Rules);
        Assert.Equal("exit-de-1", de.Node);

        // A sticky session: a provider session id derived from (package, session), held by the provider.
        var sticky = new List<ProviderLine>();
        for (int i = 0; i < 4; i++)
        {
            (ProxyReply reply, ProviderLine line) = await ThroughAsync(Get, "country-us-session-job1", "fleet-key");
            Assert.Equal(200, reply.Status);
            sticky.Add(line);
        }

        string rendered = sticky[0].Rules!;
        Assert.Matches("^network-any-country-us-session-[a-z0-9]{12}-sessionlength-600$", rendered);
        Assert.DoesNotContain("job1", rendered, StringComparison.Ordinal);   // the client's own id stays here
        Assert.All(sticky, line => Assert.Equal(rendered, line.Rules));
        Assert.Single(sticky.Select(line => line.Node).Distinct());   // the provider kept its exit

        // The same session id in another package is another provider session.
        (ProxyReply otherReply, ProviderLine otherLine) = await ThroughAsync(Get, "country-us-session-job1", "other-key");
        Assert.Equal(200, otherReply.Status);
        string otherPackage = otherLine.Rules!;
        Assert.NotEqual(ProviderSession(rendered), ProviderSession(otherPackage));

        // rotate-requests_1: our session moves on every request, so the provider session does too.
        var rotated = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < 3; i++)
        {
            (ProxyReply reply, ProviderLine line) = await ThroughAsync(Get, "country-us-session-job2-rotate-requests_1", "fleet-key");
            Assert.Equal(200, reply.Status);
            rotated.Add(ProviderSession(line.Rules!));
        }

        Assert.Equal(3, rotated.Count);
    }

    [Fact]
    public async Task RuleTheTemplateCannotExpress_IsNodeNotFound_NamingTheFilter()
    {
        ProxyReply reply = await ProxyReply.GetAsync(_frontEndPoint, _origin.Port, "country-us-asn-64500", "fleet-key");
        Assert.Equal(502, reply.Status);
        Assert.Equal("NODE_NOT_FOUND", reply.Error);
        Assert.Contains("asn=64500", reply.Body, StringComparison.Ordinal);
    }

    private static Task<ProxyReply> Connect(IPEndPoint proxy, int port, string rules, string key) => ProxyReply.ConnectAsync(proxy, port, rules, key);

    private static Task<ProxyReply> Get(IPEndPoint proxy, int port, string rules, string key) => ProxyReply.GetAsync(proxy, port, rules, key);

    private static string ProviderSession(string rules)
    {
        string[] tokens = rules.Split('-');
        return tokens[Array.IndexOf(tokens, "session") + 1];
    }

    /// <summary>Runs one request through the front engine and returns the provider's access-log line for it.</summary>
    private async Task<(ProxyReply Reply, ProviderLine Line)> ThroughAsync(Func<IPEndPoint, int, string, string, Task<ProxyReply>> send, string rules, string key)
    {
        int before = (await ProviderLinesAsync()).Length;
        ProxyReply reply = await send(_frontEndPoint, _origin.Port, rules, key);
        // The provider writes its line when the request ends; give it a moment.
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            ProviderLine[] lines = await ProviderLinesAsync();
            if (lines.Length > before)
            {
                return (reply, lines[^1]);
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException($"no provider access-log line for {rules} (reply {reply.Status} {reply.Error})");
    }

    private async Task<ProviderLine[]> ProviderLinesAsync() =>
        File.Exists(_providerLog) ? [.. (await File.ReadAllLinesAsync(_providerLog)).Where(l => l.Length > 0).Select(Parse)] : [];

    private static ProviderLine Parse(string line)
    {
        using var json = JsonDocument.Parse(line);
        JsonElement root = json.RootElement;
        return new ProviderLine(root.GetProperty("method").GetString(), root.GetProperty("rules").GetString(), root.GetProperty("node").GetString());
    }

    private static async Task Eventually(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("the front engine did not come up");
    }

    private sealed record ProviderLine(string? Method, string? Rules, string? Node);
}
