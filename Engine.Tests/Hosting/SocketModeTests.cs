using System.Globalization;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;

namespace Engine.Tests.Hosting;

/// <summary>
/// The suite runs in the daemon's socket mode (inline completions, as Program.Main sets them); the
/// default mode, which an operator gets with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0, must
/// work too and is run here in an engine child process (the mode is per process, read once).
/// </summary>
public sealed class SocketModeTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public void TestHost_RunsWithInlineSocketCompletions_AsTheDaemonDoes()
    {
        Assert.Equal("1", Environment.GetEnvironmentVariable(SocketMode.Variable));

        // The runtime decided at its first socket operation; it must have seen the variable.
        Assert.True(SocketMode.RuntimeInlineCompletions() ?? throw new InvalidOperationException(
            "this runtime has no InlineSocketCompletionsEnabled; find where it keeps the inline-completions switch"),
            "the test host's sockets complete on the thread pool: production.runsettings did not reach the host");
    }

    [Fact]
    public async Task EngineChild_WithInlineCompletionsOff_ForwardsAndTunnels()
    {
        const string config = """
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [] },
                "Packages": [ { "Id": "a", "Key": "a-key", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "one", "Type": "direct", "Country": "us" } ] } }
            """;
        await using EngineProcess engine = await EngineProcess.StartAsync(
            config, environment: new Dictionary<string, string> { [SocketMode.Variable] = "0" });

        // Program.Main only sets the variable when it is absent: the child really runs the default mode.
        string environ = await File.ReadAllTextAsync($"/proc/{engine.Pid.ToString(CultureInfo.InvariantCulture)}/environ");
        Assert.Contains($"{SocketMode.Variable}=0\0", environ, StringComparison.Ordinal);

        for (int i = 0; i < 20; i++)
        {
            ProxyReply forwarded = await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-us", "a-key");
            Assert.Equal(200, forwarded.Status);
            Assert.Equal("one", forwarded.Node);
            ProxyReply tunnelled = await ProxyReply.ConnectAsync(engine.EndPoint, _origin.Port, "country-us", "a-key");
            Assert.Equal(200, tunnelled.Status);
            Assert.Contains("HTTP/1.1 200", tunnelled.Body, StringComparison.Ordinal);
        }

        Assert.Equal("AUTH_FAILED", (await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-us", "wrong")).Error);
    }
}
