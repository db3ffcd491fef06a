using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;
using Xunit.Abstractions;

namespace Engine.Tests.Admin;

/// <summary><c>/metrics</c> on a real admin listener after real traffic through the proxy, checked by promtool.</summary>
public sealed class AdminMetricsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AdminHarness _h = null!;

    public Task InitializeAsync()
    {
        _h = new AdminHarness();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    /// <summary>One forwarded 200, one 407 AUTH_FAILED (each after HttpClient's credential-less 407 ERR_AUTH_REQUIRED) and one CONNECT tunnel, then a scrape.</summary>
    private async Task<string> TrafficThenScrapeAsync()
    {
        using (HttpClient proxy = _h.ProxyClient())
        using (HttpResponseMessage ok = await proxy.GetAsync(_h.OriginUrl("/small")))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (HttpClient wrongKey = _h.ProxyClient(key: "wrong-key"))
        using (HttpResponseMessage refused = await wrongKey.GetAsync(_h.OriginUrl("/small")))
        {
            Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, refused.StatusCode);
        }

        await TunnelAsync();
        // Five lines: the 200 and the wrong key each follow HttpClient's credential-less 407, then
        // the tunnel. Each line is written right after its metrics are recorded.
        await _h.Proxy.LogLinesAsync(5);
        using HttpResponseMessage response = await _h.Client.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        return await response.Content.ReadAsStringAsync();
    }

    private async Task TunnelAsync()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_h.Proxy.EndPoint);
        await using var stream = new NetworkStream(socket);
        string auth = Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key));
        string target = $"127.0.0.1:{_h.Origin.Port}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        byte[] buffer = new byte[1024];
        int n = await stream.ReadAsync(buffer, timeout.Token);
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"), timeout.Token);
        while (await stream.ReadAsync(buffer, timeout.Token) > 0)
        {
        }
    }

    [Fact]
    public async Task Metrics_AfterTraffic_CountsRequestsTunnelsBytesAndNodes()
    {
        string text = await TrafficThenScrapeAsync();
        output.WriteLine(text);

        string[] lines = text.Split('\n');
        Assert.Contains("engine_requests_total{status=\"200\",code=\"none\"} 1", lines);
        Assert.Contains("engine_requests_total{status=\"407\",code=\"AUTH_FAILED\"} 1", lines);
        Assert.Contains("engine_requests_total{status=\"407\",code=\"ERR_AUTH_REQUIRED\"} 2", lines);   // HttpClient's two challenges
        Assert.Contains("engine_tunnels_total{status=\"200\",code=\"none\"} 1", lines);
        Assert.Contains("# TYPE engine_requests_total counter", lines);
        Assert.Contains("# TYPE engine_request_duration_seconds histogram", lines);
        Assert.Contains("engine_request_duration_seconds_bucket{kind=\"request\",le=\"+Inf\"} 4", lines);
        Assert.Contains("engine_request_duration_seconds_count{kind=\"tunnel\"} 1", lines);
        Assert.Contains("engine_nodes{state=\"available\"} 3", lines);
        Assert.Contains("engine_nodes{state=\"draining\"} 0", lines);
        Assert.Contains("engine_state_degraded 0", lines);
        Assert.Contains("# TYPE engine_connections_open gauge", lines);
        Assert.Contains(lines, l => l.StartsWith("engine_bytes_total{direction=\"in\",package=\"demo\"} ", StringComparison.Ordinal) && long.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Contains(lines, l => l.StartsWith("engine_bytes_total{direction=\"out\",package=\"demo\"} ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("engine_bytes_total{direction=\"out\",package=\"-\"} ", StringComparison.Ordinal));   // the 407 answer
    }

    [SkippableFact]
    public async Task Metrics_RealScrape_PassesPromtoolCheckMetrics()
    {
        string? promtool = Which("promtool");
        Tools.RequireNot(promtool is null, "promtool not installed (apt-get install prometheus); the exposition is not checked");
        string text = await TrafficThenScrapeAsync();

        (int exitCode, string printed) = await Promtool.CheckMetricsAsync(promtool, text, output);
        Assert.Equal(0, exitCode);
        Assert.Equal(string.Empty, printed.Trim());   // lint findings are printed even on exit 0
    }

    internal static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
}
