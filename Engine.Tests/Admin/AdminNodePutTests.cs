using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Engine.Tests.Upstream;

namespace Engine.Tests.Admin;

/// <summary><c>PUT /nodes/{id}</c> on a running engine process: validated like config, live at once, audit-logged, shown with its origin.</summary>
[Collection("Serial")]
public sealed class AdminNodePutTests : IAsyncLifetime
{
    private const string Token = "admin-token-for-put-tests";
    private readonly TestOrigin _origin = new();
    private EngineProcess? _engine;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        int adminPort = UpstreamProcess.FreePort();
        _engine = await EngineProcess.StartAsync($$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
                "Admin": { "Endpoint": "127.0.0.1:{{adminPort}}", "Token": "{{Token}}" },
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [] },
                "AccessLog": { "Enabled": false },
                "Packages": [ { "Id": "fleet", "Key": "fleet-key", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "local", "Type": "direct", "Country": "us" } ] } }
            """);
        // EngineProcess waits for the proxy listener only; the admin listener is bound after it, and a
        // slow start (a loaded box, methods compiled optimized on first call) left the PUT refused.
        await WaitListeningAsync(adminPort);
        _admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}/"), Timeout = TimeSpan.FromSeconds(15) };
        _admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    private static async Task WaitListeningAsync(int port)
    {
        using var limit = new CancellationTokenSource(UpstreamProcess.StartTimeout);
        while (true)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), limit.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, limit.Token);
            }
        }
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task Put_AddsANodeLive_ShowsItsOrigin_AuditsIt_RefusesInvalidNodesWithReasons()
    {
        Assert.Equal("NODE_NOT_FOUND", (await ProxyReply.GetAsync(_engine!.EndPoint, _origin.Port, "country-fr", "fleet-key")).Error);

        using HttpResponseMessage put = await _admin.PutAsync("nodes/paris-1",
            new StringContent("""{ "Type": "direct", "Country": "fr", "City": "paris" }""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using (JsonDocument view = JsonDocument.Parse(await put.Content.ReadAsStringAsync()))
        {
            Assert.Equal("admin", view.RootElement.GetProperty("origin").GetString());
        }

        ProxyReply routed = await ProxyReply.GetAsync(_engine.EndPoint, _origin.Port, "country-fr", "fleet-key");
        Assert.Equal((200, "paris-1"), (routed.Status, routed.Node));

        using (JsonDocument nodes = JsonDocument.Parse(await _admin.GetStringAsync("nodes")))
        {
            Dictionary<string, string?> origins = nodes.RootElement.EnumerateArray()
                .ToDictionary(n => n.GetProperty("id").GetString()!, n => n.GetProperty("origin").GetString());
            Assert.Equal("config", origins["local"]);
            Assert.Equal("admin", origins["paris-1"]);
        }

        using HttpResponseMessage invalid = await _admin.PutAsync("nodes/bad-1",
            new StringContent("""{ "Type": "http", "Country": "xx" }""", Encoding.UTF8, "application/json"));
        Assert.Equal((HttpStatusCode)422, invalid.StatusCode);
        using (JsonDocument problem = JsonDocument.Parse(await invalid.Content.ReadAsStringAsync()))
        {
            string[] fields = [.. problem.RootElement.GetProperty("violations").EnumerateArray().Select(v => v.GetProperty("field").GetString()!)];
            Assert.Contains("Address", fields);
            Assert.Contains("Country", fields);
        }

        using HttpResponseMessage mismatch = await _admin.PutAsync("nodes/one",
            new StringContent("""{ "Id": "two", "Type": "direct" }""", Encoding.UTF8, "application/json"));
        Assert.Equal((HttpStatusCode)422, mismatch.StatusCode);

        // Who changed which node: one audit line per change, none for refusals.
        string output = _engine.Output;
        Assert.Contains("Admin audit: PUT node paris-1 from 127.0.0.1", output, StringComparison.Ordinal);
        Assert.DoesNotContain("PUT node bad-1", output, StringComparison.Ordinal);
    }
}
