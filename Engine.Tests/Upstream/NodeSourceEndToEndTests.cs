using System.Diagnostics;
using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;

namespace Engine.Tests.Upstream;

/// <summary>
/// A node source end to end: an engine process whose pool is a seller-style proxy list naming real
/// squid and microsocks exits; the file is edited (and removed) while traffic flows.
/// </summary>
[Collection("Serial")]
public sealed class NodeSourceEndToEndTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("engine-sources-").FullName;
    private Squid? _squid;
    private Microsocks? _microsocks;

    public async Task InitializeAsync()
    {
        _squid = await Squid.StartAsync();
        _microsocks = await Microsocks.StartAsync(RealUpstreamsFixture.User, RealUpstreamsFixture.Password);
    }

    public async Task DisposeAsync()
    {
        if (_squid is not null)
        {
            await _squid.DisposeAsync();
        }

        if (_microsocks is not null)
        {
            await _microsocks.DisposeAsync();
        }

        await _origin.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private string SquidLine => $"http://127.0.0.1:{_squid!.EndPoint.Port}";

    private string MicrosocksLine => $"socks5h://{RealUpstreamsFixture.User}:{RealUpstreamsFixture.Password}@127.0.0.1:{_microsocks!.EndPoint.Port}";

    private string SquidId => $"de-127.0.0.1-{_squid!.EndPoint.Port}";

    private string MicrosocksId => $"de-127.0.0.1-{_microsocks!.EndPoint.Port}-{RealUpstreamsFixture.User}";

    [Fact]
    public async Task EditedWhileTrafficFlows_PoolFollowsTheFile_NoRequestFails_BadLinesNamedByLine()
    {
        string nodes = Path.Combine(_directory, "nodes.txt");
        await File.WriteAllTextAsync(nodes, $"# seller list, 2026-12-05\n{SquidLine}\nnot a proxy line\n{MicrosocksLine}\n");
        await using EngineProcess engine = await EngineProcess.StartAsync($$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [] },
                "AccessLog": { "Path": "{{Path.Combine(_directory, "access.log")}}" },
                "Packages": [ { "Id": "fleet", "Key": "fleet-key", "DefaultRules": "country-de" } ],
                "NodeSources": [ { "Path": "{{nodes}}", "Format": "lines", "Country": "de", "Network": "dc", "IdPrefix": "de-" } ] } }
            """);

        // The malformed line is named by file and line; the two good ones load.
        await Eventually(() => engine.Output.Contains("nodes.txt:3:", StringComparison.Ordinal), "the bad line reported");
        Assert.Contains("2 nodes loaded (1 lines skipped)", engine.Output, StringComparison.Ordinal);

        // Traffic runs through every change below; each reply is kept with the node that served it.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var replies = new System.Collections.Concurrent.ConcurrentQueue<(int Phase, int Status, string? Node, string? Error)>();
        // A request counts for a phase only when it started and ended in it (-1: a change is being made).
        int phase = 0;
        Task[] workers = [.. Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < 5_000 && !stop.IsCancellationRequested; i++)
            {
                int before = Volatile.Read(ref phase);
                ProxyReply reply = await ProxyReply.GetAsync(engine.EndPoint, _origin.Port, "country-de", "fleet-key");
                int after = Volatile.Read(ref phase);
                replies.Enqueue((before == after ? before : -1, reply.Status, reply.Node, reply.Error));
            }
        }))];

        await Eventually(() => Seen(replies, 0, SquidId) && Seen(replies, 0, MicrosocksId), "both source nodes serving");

        // Replace the file the safe way (write aside, rename over): squid leaves the pool. Requests
        // that start once the engine has logged the change never reach squid.
        Volatile.Write(ref phase, -1);
        await ReplaceAsync(nodes, $"{MicrosocksLine}\n");
        await Eventually(() => PoolChanges(engine) >= 1, "the pool change logged");
        Volatile.Write(ref phase, 1);
        await Eventually(() => replies.Count(r => r.Phase == 1) >= 40, "traffic after the change");

        // The file vanishes: the last good pool stays, and the log says so.
        File.Delete(nodes);
        await Eventually(() => engine.Output.Contains("is gone; keeping its last good 1 nodes", StringComparison.Ordinal), "the vanished file reported");
        Volatile.Write(ref phase, 2);
        await Eventually(() => replies.Count(r => r.Phase == 2) >= 40, "traffic after the file vanished");

        // It comes back with squid only.
        Volatile.Write(ref phase, -1);
        await ReplaceAsync(nodes, $"{SquidLine}\n");
        await Eventually(() => PoolChanges(engine) >= 2, "the second pool change logged");
        Volatile.Write(ref phase, 3);
        await Eventually(() => replies.Count(r => r.Phase == 3) >= 40, "traffic after the second change");

        await stop.CancelAsync();
        await Task.WhenAll(workers);
        Assert.All(replies, r => Assert.True(r.Status == 200, $"phase {r.Phase}: {r.Status} {r.Error} via {r.Node}"));
        Assert.All(replies.Where(r => r.Phase is 1 or 2), r => Assert.Equal(MicrosocksId, r.Node));
        Assert.All(replies.Where(r => r.Phase == 3), r => Assert.Equal(SquidId, r.Node));
    }

    private static int PoolChanges(EngineProcess engine) =>
        engine.Output.Split("Pool changed (node source").Length - 1;

    private static bool Seen(IEnumerable<(int Phase, int Status, string? Node, string? Error)> replies, int phase, string node) =>
        replies.Any(r => r.Phase == phase && r.Node == node);

    private async Task ReplaceAsync(string path, string text)
    {
        string aside = Path.Combine(_directory, "nodes.txt.tmp");
        await File.WriteAllTextAsync(aside, text);
        File.Move(aside, path, overwrite: true);
    }

    private static async Task Eventually(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"not within 20 s: {what}");
    }
}
