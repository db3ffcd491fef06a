using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Engine.Tests.Diagnostics;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Xunit.Abstractions;

namespace Engine.Tests.Connection;

/// <summary>
/// The clients scraping fleets use, each driven against the engine as they ship (scripts in
/// Connection/Clients/, the same cases for all): an http and an https target, a 1 MiB POST (the origin
/// answers the length it received), a wrong key (the client sees 407), an unresolvable host (502
/// NAME_NOT_RESOLVED, where the client exposes headers) and SOCKS5 where the client speaks it. .ci/run
/// installs them: apt (curl, python3-requests/socks/httpx/aiohttp, golang-go, chromium) and npm into
/// .ci/node_modules (undici, playwright-core).
/// </summary>
public sealed class ClientCompatibilityTests : IAsyncLifetime
{
    private const int PostBytes = 1 << 20;
    private readonly TestOrigin _http = new();
    private readonly TestOrigin _https = new(tls: true);
    private readonly ITestOutputHelper _output;
    private readonly string _directory = Directory.CreateTempSubdirectory("engine-clients-").FullName;
    private ProxyFixture _proxy = null!;
    private Engine.Transport.TlsCertificateSource _tls = null!;

    public ClientCompatibilityTests(ITestOutputHelper output) => _output = output;

    public Task InitializeAsync()
    {
        (X509Certificate2 root, X509Certificate2 intermediate, X509Certificate2 leaf) = TestCertificates.CreateChain();
        using (root)
        using (intermediate)
        using (leaf)
        {
            (string certificate, string key) = TestCertificates.WritePemChain(leaf, [intermediate], _directory);
            _tls = new Engine.Transport.TlsCertificateSource(certificate, key);
            File.WriteAllText(RootFile, root.ExportCertificatePem());
        }

        _proxy = new ProxyFixture(o =>
        {
            o.Socks = true;
            o.Tls = _tls;
            o.Resolve = (host, _) => host == "nowhere.invalid"
                ? throw new SocketException((int)SocketError.HostNotFound)
                : Task.FromResult(new[] { IPAddress.Loopback });
        });
        File.WriteAllBytes(BodyFile, RandomNumberGenerator(PostBytes));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        _tls.Dispose();
        await _http.DisposeAsync();
        await _https.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private string BodyFile => Path.Combine(_directory, "body.bin");

    private string RootFile => Path.Combine(_directory, "root.pem");

    private string TlsProxy => $"https://country-us:{ProxyFixture.Key}@127.0.0.1:{_proxy.TlsEndPoint.Port}";

    private string Proxy => $"http://country-us:{ProxyFixture.Key}@127.0.0.1:{_proxy.EndPoint.Port}";

    private string WrongProxy => $"http://country-us:wrong-key@127.0.0.1:{_proxy.EndPoint.Port}";

    private string HttpBase => $"http://127.0.0.1:{_http.Port}";

    private string HttpsBase => $"https://127.0.0.1:{_https.Port}";

    private const string Unresolvable = "http://nowhere.invalid/small";

    private static readonly string[] Common = ["http 200", "https 200", $"post 200 {PostBytes}", "wrongkey 407", "unresolvable 502 NAME_NOT_RESOLVED"];

    public static TheoryData<string> Clients => ["curl", "python3-requests", "python3-httpx", "python3-aiohttp", "node-undici", "go-net-http", "chromium"];

    [SkippableTheory]
    [MemberData(nameof(Clients))]
    public async Task Client_ThroughTheEngine_GetsTheAnswersItShould(string client)
    {
        string scripts = Path.Combine(AppContext.BaseDirectory, "Connection", "Clients");
        string nodeModules = Path.Combine(AllocationBudget.FindRepositoryRoot(), ".ci", "node_modules");
        string socks = $"socks5h://country-us:{ProxyFixture.Key}@127.0.0.1:{_proxy.SocksEndPoint.Port}";
        string[] withSocks = [.. Common, "socks 200"];
        const string TlsHttp = "tlsproxy 200", TlsHttps = "tlsproxy-https 200";
        ClientRun run = client switch
        {
            "curl" => new(Need("curl") is not null ? "bash" : "", ["curl.sh"], [.. withSocks, TlsHttp, TlsHttps], []),
            "python3-requests" => new(Python("requests", "socks"), ["requests_client.py"], [.. withSocks, TlsHttp], []),
            // httpx 0.23 (Debian 12) does not verify an https proxy with the client's own trust: not asked.
            "python3-httpx" => new(Python("httpx"), ["httpx_client.py"], Common, []),
            "python3-aiohttp" => new(Python("aiohttp"), ["aiohttp_client.py"], [.. Common, TlsHttp], []),
            "node-undici" => new(Node(nodeModules, "undici"), ["undici_client.mjs"], [.. Common, TlsHttp, TlsHttps], new() { ["NODE_CLIENTS_DIR"] = nodeModules }),
            "go-net-http" => new(Need("go"), ["run", "gohttp_client.go"], [.. withSocks, TlsHttp], new() { ["GOCACHE"] = Path.Combine(Path.GetTempPath(), "engine-tests-gocache"), ["GO111MODULE"] = "off" }),
            // Chromium trusts a proxy's root only through its NSS database, which the test does not set up.
            "chromium" => new(Node(nodeModules, "playwright-core"), ["chromium_client.mjs"], ["http 200", $"post 200 {PostBytes}", "https 200", "unresolvable 502 NAME_NOT_RESOLVED", "wrongkey 407"],
                new() { ["NODE_CLIENTS_DIR"] = nodeModules, ["CHROMIUM"] = Chromium() }),
            _ => throw new ArgumentOutOfRangeException(nameof(client)),
        };
        (string program, string[] arguments, string[] expected, Dictionary<string, string> environment) = (run.Program, run.Arguments, run.Expected, run.Environment);

        if (client == "go-net-http")
        {
            socks = socks.Replace("socks5h://", "socks5://", StringComparison.Ordinal);   // Go sends the name either way
        }

        string printed = await RunAsync(program, [.. arguments, Proxy, WrongProxy, socks, HttpBase, HttpsBase, Unresolvable, BodyFile, TlsProxy, RootFile], scripts, environment);
        string[] lines = printed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(expected.Order(StringComparer.Ordinal), lines.Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public async Task DotNetHttpClient_WithWebProxyAndCredentials_GetsTheAnswersItShould()
    {
        using HttpClient client = Client(new WebProxy($"http://127.0.0.1:{_proxy.EndPoint.Port}") { Credentials = new NetworkCredential("country-us", ProxyFixture.Key) });
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HttpBase + "/small")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HttpsBase + "/small")).StatusCode);
        // HttpClient sends no Proxy-Authorization until the proxy asks: its first attempt carries the whole
        // 1 MiB body into a 407, which the engine reads past (lingering close) so the retry with credentials works.
        using HttpResponseMessage posted = await client.PostAsync(HttpBase + "/echo", new ByteArrayContent(await File.ReadAllBytesAsync(BodyFile)));
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(PostBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), posted.Headers.GetValues("X-Body-Length").Single());
        using HttpResponseMessage unresolvable = await client.GetAsync(Unresolvable);
        Assert.Equal(HttpStatusCode.BadGateway, unresolvable.StatusCode);
        Assert.Equal("NAME_NOT_RESOLVED", unresolvable.Headers.GetValues("X-Proxy-Error").Single());

        using HttpClient wrong = Client(new WebProxy($"http://127.0.0.1:{_proxy.EndPoint.Port}") { Credentials = new NetworkCredential("country-us", "wrong-key") });
        Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, (await wrong.GetAsync(HttpBase + "/small")).StatusCode);

        using HttpClient socks = Client(new WebProxy($"socks5://127.0.0.1:{_proxy.SocksEndPoint.Port}") { Credentials = new NetworkCredential("country-us", ProxyFixture.Key) });
        Assert.Equal(HttpStatusCode.OK, (await socks.GetAsync(HttpBase + "/small")).StatusCode);

        static HttpClient Client(IWebProxy proxy) => new(new SocketsHttpHandler
        {
            Proxy = proxy,
            // The test origin's self-signed certificate: the client is what is tested, not the chain.
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null },
        }) { Timeout = TimeSpan.FromSeconds(30) };
    }

    private sealed record ClientRun(string Program, string[] Arguments, string[] Expected, Dictionary<string, string> Environment);

    private static byte[] RandomNumberGenerator(int length) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);

    private static string Need(string tool) =>
        UpstreamProcess.FindOnPath(tool) ?? throw Tools.Unavailable($"{tool} is not on PATH (.ci/run installs it)");

    private static string Python(params string[] modules)
    {
        // The system interpreter, where apt puts python3-requests & co. (a pyenv shim may come first on PATH).
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : Need("python3");
        foreach (string module in modules)
        {
            using Process check = Process.Start(new ProcessStartInfo(python, ["-c", $"import {module}"]) { RedirectStandardError = true })!;
            check.WaitForExit(30_000);
            Tools.RequireNot(check.ExitCode != 0, $"python3 module {module} is not installed (apt python3-{module}; .ci/run installs it)");
        }

        return python;
    }

    private static string Node(string nodeModules, string package)
    {
        string node = Need("node");
        Tools.RequireNot(!Directory.Exists(Path.Combine(nodeModules, package)), $"{package} is not in {nodeModules} (.ci/run: npm ci in .ci)");
        return node;
    }

    private static string Chromium() =>
        UpstreamProcess.FindOnPath("chromium") ?? UpstreamProcess.FindOnPath("chromium-browser") ?? throw Tools.Unavailable("chromium is not on PATH (apt-get install chromium)");

    private async Task<string> RunAsync(string program, string[] arguments, string directory, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in environment)
        {
            info.Environment[name] = value;
        }

        using Process process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish within 3 minutes; output so far: {await output}");
        }

        string printed = await output;
        _output.WriteLine(printed);
        _output.WriteLine(await errors);
        Assert.True(process.ExitCode == 0, $"{program} exited {process.ExitCode}: {printed}\n{await errors}");
        return printed;
    }
}
