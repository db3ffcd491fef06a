using Engine.Tests.Fixtures;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Engine.Tests.Admin;

/// <summary>The status page in headless Chromium against a real admin listener: it renders nodes and counters without script errors.</summary>
public sealed partial class StatusPageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AdminHarness _h = null!;
    private readonly string _profile = Path.Combine(Path.GetTempPath(), $"engine-chromium-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public Task InitializeAsync()
    {
        _h = new AdminHarness();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _h.DisposeAsync();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string? Chromium() => AdminMetricsTests.Which("chromium") ?? AdminMetricsTests.Which("chromium-browser");

    [Fact]
    public async Task Root_NoToken_ServesSelfContainedHtmlWithCsp()
    {
        using HttpResponseMessage response = await _h.Anonymous.GetAsync("");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        string html = await response.Content.ReadAsStringAsync();
        Assert.DoesNotMatch(ExternalAsset(), html);
    }

    [SkippableFact]
    public async Task StatusPage_InHeadlessChromium_RendersNodesAndCountersWithoutErrors()
    {
        string? chromium = Chromium();
        Tools.RequireNot(chromium is null, "chromium not installed (apt-get install chromium); the status page is not rendered");
        using (HttpClient proxy = _h.ProxyClient())
        {
            for (int i = 0; i < 3; i++)
            {
                using HttpResponseMessage ok = await proxy.GetAsync(_h.OriginUrl("/small"));
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            }
        }

        using (HttpResponseMessage drained = await _h.Client.PostAsync("nodes/dc-de-1/drain", null))
        {
            Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        }

        // The token travels in the fragment, which the browser keeps to itself; the page sends it as a bearer token.
        string url = $"{_h.BaseAddress}#token={AdminHarness.Token}";
        (string dom, string log) = await RunAsync(chromium!, "--dump-dom", url);
        output.WriteLine(dom);

        Assert.Contains("data-node=\"dc-us-1\"", dom, StringComparison.Ordinal);
        Assert.Contains("data-node=\"dc-de-1\"", dom, StringComparison.Ordinal);
        Assert.Contains("data-node=\"res-fr-1\"", dom, StringComparison.Ordinal);
        Assert.Contains("<span class=\"pill draining\">draining</span>", dom, StringComparison.Ordinal);
        Assert.Contains("data-code=\"none\"", dom, StringComparison.Ordinal);
        Assert.Contains("data-code=\"ERR_AUTH_REQUIRED\"", dom, StringComparison.Ordinal);
        Assert.Matches(@"id=""rate"">\d+\.\d<", dom);
        Assert.Matches(@"id=""totals"">\d+ requests, \d+ tunnels<", dom);
        Assert.Matches(@"id=""health"">2 / 3<", dom);
        Assert.Contains("<span id=\"state\" class=\"ok\">live", dom, StringComparison.Ordinal);
        Assert.Contains("<span id=\"error\" role=\"alert\"></span>", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("Uncaught", log, StringComparison.Ordinal);
        Assert.DoesNotContain("console.error", log, StringComparison.Ordinal);

        string screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(screenshots);
        string png = Path.Combine(screenshots, "status-page.png");
        File.Delete(png);
        await RunAsync(chromium!, $"--screenshot={png}", url);
        Assert.True(new FileInfo(png).Length > 10_000, "the screenshot is missing or blank");
        output.WriteLine($"status page screenshot: {png}");
    }

    [SkippableFact]
    public async Task StatusPage_WithoutToken_AsksForIt()
    {
        string? chromium = Chromium();
        Tools.RequireNot(chromium is null, "chromium not installed (apt-get install chromium); the status page is not rendered");

        (string dom, string log) = await RunAsync(chromium!, "--dump-dom", _h.BaseAddress.ToString());

        Assert.Contains("<form id=\"login\">", dom, StringComparison.Ordinal);   // no longer hidden
        Assert.Contains("token needed", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("data-node=", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("Uncaught", log, StringComparison.Ordinal);
    }

    /// <summary>One headless run; virtual time lets the page fetch twice (a rate needs two samples).</summary>
    private async Task<(string Stdout, string Stderr)> RunAsync(string chromium, string action, string url)
    {
        var start = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--enable-logging=stderr", "--v=0", $"--user-data-dir={_profile}", "--window-size=1280,900", "--virtual-time-budget=5000", action, url])
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);   // our own child, by its handle
            throw;
        }

        string log = await stderr;
        output.WriteLine($"chromium {action}: exit {process.ExitCode}; console lines: " + string.Join(" | ", log.Split('\n').Where(l => l.Contains("CONSOLE", StringComparison.Ordinal))));
        return (await stdout, log);
    }

    [GeneratedRegex(@"(src|href)\s*=\s*[""']?(https?:)?//", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalAsset();
}
