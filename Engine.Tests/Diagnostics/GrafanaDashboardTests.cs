using Engine.Tests.Fixtures;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Hosting;
using Engine.Tests.Admin;
using Engine.Upstream;
using Xunit.Abstractions;

namespace Engine.Tests.Diagnostics;

/// <summary>deploy/grafana-dashboard.json: valid JSON whose queries use only metrics the exporter writes.</summary>
public sealed partial class GrafanaDashboardTests(ITestOutputHelper output)
{
    private static string DashboardPath => Path.Combine(Hosting.BuildScriptTests.RepoRoot(), "deploy", "grafana-dashboard.json");

    private static List<string> Expressions()
    {
        using JsonDocument dashboard = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        var expressions = new List<string>();
        Collect(dashboard.RootElement, expressions);
        return expressions;
    }

    private static void Collect(JsonElement element, List<string> expressions)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    if (property.Name is "expr" or "definition" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        expressions.Add(property.Value.GetString()!);
                    }
                    else
                    {
                        Collect(property.Value, expressions);
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (JsonElement item in element.EnumerateArray())
                {
                    Collect(item, expressions);
                }

                break;
        }
    }

    /// <summary>Every series name of a scrape after each instrument has recorded something.</summary>
    private static HashSet<string> ExportedNames()
    {
        using var metrics = new EngineMetrics(() => false, () => 0);
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, metrics.Meter));
        var pool = new NodePool([new NodeOptions { Id = "n1", Type = NodeType.Direct }], NodeHealthPolicy.Default(TimeProvider.System));
        metrics.Observe(() => 1, () => pool);
        metrics.RequestEnded(tunnel: false, 200, ErrorCode.None, "demo", 10, 20, TimeSpan.FromMilliseconds(5));
        metrics.RequestEnded(tunnel: true, 502, ErrorCode.NodeUnavailable, "demo", 10, 20, TimeSpan.FromMilliseconds(5));
        metrics.Limited(LimitedBy.Rps);
        metrics.Reloaded(ok: true);
        return exporter.Scrape().Split('\n')
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split('{', ' ')[0])
            .ToHashSet(StringComparer.Ordinal);
    }

    [Fact]
    public void Dashboard_EveryExpression_UsesOnlyExportedMetrics()
    {
        HashSet<string> exported = ExportedNames();
        List<string> expressions = Expressions();

        Assert.NotEmpty(expressions);
        foreach (string expression in expressions)
        {
            string[] used = [.. MetricName().Matches(expression).Select(m => m.Value)];
            Assert.NotEmpty(used);
            Assert.All(used, name => Assert.Contains(name, exported));
        }
    }

    [SkippableFact]
    public async Task Dashboard_EveryExpression_IsValidPromQl()
    {
        string? promtool = AdminMetricsTests.Which("promtool");
        Tools.RequireNot(promtool is null, "promtool not installed (apt-get install prometheus); PromQL syntax is not checked");
        var rules = new StringBuilder("groups:\n- name: dashboard\n  rules:\n");
        int i = 0;
        foreach (string expression in Expressions().Where(e => !e.StartsWith("label_values", StringComparison.Ordinal)))
        {
            string promql = expression.Replace("$__rate_interval", "5m", StringComparison.Ordinal)
                .Replace("$__range", "1h", StringComparison.Ordinal).Replace("$instance", ".*", StringComparison.Ordinal);
            rules.Append("  - record: dashboard:expr").Append(i++).Append('\n')
                .Append("    expr: ").Append(JsonSerializer.Serialize(promql)).Append('\n');
        }

        string path = Path.Combine(Path.GetTempPath(), $"engine-dashboard-{Environment.ProcessId}-{Guid.NewGuid():N}.rules.yml");
        await File.WriteAllTextAsync(path, rules.ToString());
        try
        {
            using Process process = Process.Start(new ProcessStartInfo(promtool, ["check", "rules", path]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            output.WriteLine($"promtool check rules ({i} dashboard expressions): exit {process.ExitCode}\n{await stdout}{await stderr}");
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [GeneratedRegex(@"\bengine_[a-z0-9_]+")]
    private static partial Regex MetricName();
}
