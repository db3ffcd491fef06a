using System.Globalization;
using System.Net;
using System.Text;
using Engine.Connection;
using Engine.Hosting;
using Engine.State;
using HdrHistogram;
using Microsoft.Extensions.Configuration;

namespace LoadTests;

/// <summary>
/// <c>LoadTests ci</c>: every scenario for a few seconds against an engine started in this process
/// (HTTP and SOCKS5 listeners, one direct node), printed as one markdown table. A smoke test for CI,
/// not a measurement: load generator and engine share this process and its cores. Fails when a
/// scenario has no success or any answer other than the expected one (status and catalog code; a
/// close or reset counts too), listed by scenario, status and code (issue 16.5).
/// </summary>
internal static class CiSmoke
{
    public static async Task<int> RunAsync(IPEndPoint origin)
    {
        string json = $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:0", "Protocol": "http" }, { "Endpoint": "127.0.0.1:0", "Protocol": "socks5" } ],
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [ {{origin.Port}} ], "AuthFailuresPerMinute": 0 },
                "Packages": [ { "Id": "ci", "Key": "ci-key", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "local", "Type": "direct", "Country": "us" } ] } }
            """;
        await using InProcessEngine? engine = InProcessEngine.Start(json);
        if (engine is null)
        {
            return 2;
        }

        ProxyServer server = engine.Server;
        string http = server.EndPoints[0].ToString();
        string socks = server.EndPoints[1].ToString();
        string o = origin.ToString();

        LoadOptions Options(params string[] args) => LoadOptions.Parse(args);
        (string Name, Func<Task<RunResult>> Run)[] runs =
        [
            ("keep-alive GET", () => Scenarios.KeepAliveGetAsync(Options("get", "--proxy", http, "--origin", o, "--auth", "country-us:ci-key", "--connections", "32", "--duration", "3"), origin)),
            ("407 storm", () => Scenarios.KeepAliveGetAsync(Options("storm", "--proxy", http, "--origin", o, "--auth", "country-us:wrong", "--connections", "32", "--duration", "2"), origin, expectedStatus: 407, expectedCode: "AUTH_FAILED")),
            ("CONNECT + GET + close", () => Scenarios.ConnectRateAsync(Options("connect", "--proxy", http, "--origin", o, "--auth", "country-us:ci-key", "--connections", "32", "--requests", "2000", "--duration", "20"), origin)),
            ("SOCKS5 + GET + close", () => Scenarios.ConnectRateAsync(Options("connect", "--proxy", socks, "--socks", "1", "--origin", o, "--auth", "country-us:ci-key", "--connections", "32", "--requests", "2000", "--duration", "20"), origin)),
            ("CONNECT 256 MB", () => Scenarios.TunnelThroughputAsync(Options("tunnel", "--proxy", http, "--origin", o, "--auth", "country-us:ci-key", "--bytes", (256L << 20).ToString(CultureInfo.InvariantCulture), "--duration", "30"), origin)),
        ];

        var table = new StringBuilder("| scenario | ok | errors | rate | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
        var problems = new List<string>();
        foreach ((string name, Func<Task<RunResult>> run) in runs)
        {
            RunResult result = await run();
            HistogramBase h = result.Latency;
            string rate = result.Bytes > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{result.Bytes / result.Elapsed.TotalSeconds / 1e6:0} MB/s")
                : string.Create(CultureInfo.InvariantCulture, $"{result.Ok / result.Elapsed.TotalSeconds:0}/s");
            table.Append(CultureInfo.InvariantCulture,
                $"| {name} | {result.Ok} | {result.Errors} | {rate} | {(h.TotalCount > 0 ? h.GetValueAtPercentile(50) / 1e6 : 0):0.0} | {(h.TotalCount > 0 ? h.GetValueAtPercentile(99) / 1e6 : 0):0.0} |\n");
            if (result.Ok == 0)
            {
                problems.Add($"{name}: no success");
            }

            if (result.Errors > 0)
            {
                problems.Add($"{name}: {result.Errors} unexpected answers: {(result.Unexpected.IsEmpty ? "unrecorded" : result.Unexpected.Render())}");
            }
        }

        Console.Write(table.ToString());
        foreach (string problem in problems)
        {
            Console.WriteLine("ci smoke problem: " + problem);
        }

        Console.WriteLine(problems.Count == 0 ? "ci smoke: ok" : "ci smoke: failed");
        return problems.Count == 0 ? 0 : 1;
    }
}
