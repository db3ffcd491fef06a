using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Engine.Tests.Fixtures;
using Engine.Tests.Forwarding;
using Engine.Transport;

namespace Engine.Tests.Transport;

/// <summary>The https listener: TLS from the client to the engine, then the HTTP listener's behaviour.</summary>
public sealed class TlsListenerTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("engine-tls-").FullName;
    private readonly TestOrigin _origin = new();
    private readonly TestOrigin _tlsOrigin = new(tls: true);
    private readonly X509Certificate2 _certificate = TestCertificates.Create();
    private ProxyFixture _proxy = null!;
    private TlsCertificateSource _source = null!;
    private string _certificatePem = null!;

    public Task InitializeAsync()
    {
        (_certificatePem, string key) = TestCertificates.WritePem(_certificate, _directory);
        _source = new TlsCertificateSource(_certificatePem, key);
        _proxy = new ProxyFixture(o => o.Tls = _source);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        _source.Dispose();
        await _origin.DisposeAsync();
        await _tlsOrigin.DisposeAsync();
        _certificate.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static async Task<(int Exit, string Output, string Error)> CurlAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process curl = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Task<string> error = curl.StandardError.ReadToEndAsync(timeout.Token);
        string output = await curl.StandardOutput.ReadToEndAsync(timeout.Token);
        await curl.WaitForExitAsync(timeout.Token);
        return (curl.ExitCode, output, await error);
    }

    [Fact]
    public async Task Curl_HttpsProxy_PlainHttpTarget()
    {
        (int exit, string output, string error) = await CurlAsync("-s", "-S", "--max-time", "10",
            "-x", $"https://127.0.0.1:{_proxy.TlsEndPoint.Port}", "--proxy-cacert", _certificatePem,
            "-U", $"country-us:{ProxyFixture.Key}", $"http://127.0.0.1:{_origin.Port}/small");
        Assert.True(exit == 0, error);
        Assert.Equal("Hello, world!", output);
    }

    [Fact]
    public async Task Curl_HttpsProxy_ConnectInsideTls_TlsInTls()
    {
        (int exit, string output, string error) = await CurlAsync("-s", "-S", "--max-time", "10",
            "-x", $"https://127.0.0.1:{_proxy.TlsEndPoint.Port}", "--proxy-cacert", _certificatePem,
            "-U", $"country-us:{ProxyFixture.Key}", "-k", $"https://127.0.0.1:{_tlsOrigin.Port}/small");
        Assert.True(exit == 0, error);
        Assert.Equal("Hello, world!", output);
        string[] log = await _proxy.LogLinesAsync();
        Assert.Contains("method=CONNECT", log[0], StringComparison.Ordinal);
    }

    /// <summary>
    /// A close-delimited body the target cut with a reset reaches a client behind TLS as a reset too
    /// (curl's exit 56), and one it ended with a FIN as a complete body (exit 0): the TLS listener
    /// keeps the plain listener's rule (errors.md, "How a cut ends").
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Curl_HttpsProxy_CloseDelimitedBody_ResetOnlyWhenTheOriginReset(bool originResets)
    {
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            if (await ScriptedOrigin.ReadRequestHeadAsync(socket, token) is null)
            {
                return;
            }

            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + new string('a', 5000), token);
            await Task.Delay(200, token);
            if (originResets)
            {
                socket.LingerState = new LingerOption(true, 0);
            }

            socket.Close();
        });

        (int exit, string output, string error) = await CurlAsync("-s", "-S", "--max-time", "10",
            "-x", $"https://127.0.0.1:{_proxy.TlsEndPoint.Port}", "--proxy-cacert", _certificatePem,
            "-U", $"country-us:{ProxyFixture.Key}", $"http://127.0.0.1:{origin.Port}/");
        Assert.Equal(5000, output.Length);
        Assert.True(originResets ? exit == 56 : exit == 0, $"exit {exit}: {error}");
    }

    /// <summary>
    /// CONNECT inside TLS: a target that resets the tunnel reaches the client as a reset of its TLS
    /// connection to the proxy (a TLS read that fails with a reset), one that ends with a FIN as an end.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ConnectInsideTls_TargetReset_IsPassedOnAsAReset(bool targetResets)
    {
        await using var target = new ScriptedOrigin(async (index, socket, token) =>
        {
            await ScriptedOrigin.SendAsync(socket, "banner", token);
            await Task.Delay(200, token);
            if (targetResets)
            {
                socket.LingerState = new LingerOption(true, 0);
            }

            socket.Close();
        });

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.TlsEndPoint);
        string expected = _certificate.Thumbprint;
        await using var tls = new SslStream(new NetworkStream(socket), false, (_, certificate, _, _) => certificate is X509Certificate2 presented && presented.Thumbprint == expected);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        string auth = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key));
        await tls.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{target.Port} HTTP/1.1\r\nHost: 127.0.0.1:{target.Port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"));
        var received = new System.Text.StringBuilder();
        byte[] buffer = new byte[4096];
        bool reset = false;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int n;
            while ((n = await tls.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            reset = true;
        }

        Assert.StartsWith("HTTP/1.1 200", received.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("banner", received.ToString(), StringComparison.Ordinal);
        Assert.Equal(targetResets, reset);
    }

    [Fact]
    public async Task Curl_HttpsProxy_WrongKey_Is407OverTls()
    {
        (int exit, _, string error) = await CurlAsync("-s", "-S", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
            "-x", $"https://127.0.0.1:{_proxy.TlsEndPoint.Port}", "--proxy-cacert", _certificatePem,
            "-U", "country-us:wrong", $"http://127.0.0.1:{_origin.Port}/small");
        Assert.True(exit == 0, error);
        string[] log = await _proxy.LogLinesAsync();
        Assert.Contains("code=AUTH_FAILED", log[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_OffersAlpnHttp11()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.TlsEndPoint);
        string expected = _certificate.Thumbprint;
        await using var tls = new SslStream(new NetworkStream(socket), false, (_, certificate, _, _) => certificate is X509Certificate2 presented && presented.Thumbprint == expected);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
        });
        Assert.Equal(SslApplicationProtocol.Http11, tls.NegotiatedApplicationProtocol);
        Assert.Equal(_certificate.Thumbprint, new X509Certificate2(tls.RemoteCertificate!).Thumbprint);
    }

    // spec/errors.md: the ceiling's 503 on an https listener is answered inside TLS, never as plain text, and logged.
    [Fact]
    public async Task MaxConnections_Exceeded_OnTheHttpsListener_Answers503InsideTls_AndLogsIt()
    {
        await using var proxy = new ProxyFixture(o =>
        {
            o.Tls = _source;
            o.MaxConnections = 2;
        });
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await a.ConnectAsync(proxy.EndPoint);
        await b.ConnectAsync(proxy.EndPoint);
        // Both admitted (counted by the engine) before the third arrives: an event, not a sleep.
        var admitted = System.Diagnostics.Stopwatch.StartNew();
        while (proxy.Server.OpenConnections < 2)
        {
            Assert.True(admitted.Elapsed < TimeSpan.FromSeconds(10), $"only {proxy.Server.OpenConnections} of 2 connections admitted");
            await Task.Delay(5);
        }

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy.TlsEndPoint);
        string expected = _certificate.Thumbprint;
        await using var tls = new SslStream(new NetworkStream(socket), false, (_, certificate, _, _) => certificate is X509Certificate2 presented && presented.Thumbprint == expected);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, timeout.Token);
        using var reader = new StreamReader(tls);
        string answer = await reader.ReadToEndAsync(timeout.Token);

        Assert.StartsWith("HTTP/1.1 503 Service Unavailable\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Error: OVERLOADED\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("Retry-After: 1\r\n", answer, StringComparison.Ordinal);
        string line = (await proxy.LogLinesAsync())[0];
        Assert.Contains(" status=503 code=OVERLOADED ", line, StringComparison.Ordinal);
        Assert.Contains(" ts=RR", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_NeverStarted_IsClosedAtTheHeadDeadline()
    {
        await using var proxy = new ProxyFixture(o =>
        {
            o.Tls = _source;
            o.Limits = new Engine.Connection.ConnectionLimits { RequestHeadTimeout = TimeSpan.FromMilliseconds(300) };
        });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // Started before the connect: the engine's deadline runs from its accept, and on a busy runner the
        // continuation after ConnectAsync can come 150 ms after that (a CI run read 145 ms here).
        var clock = Stopwatch.StartNew();
        await socket.ConnectAsync(proxy.TlsEndPoint);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await socket.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(280), TimeSpan.FromSeconds(5));   // the runtime timer's millisecond ticks
    }

    [Fact]
    public void Source_RenewedFiles_AreServedAfterTheRecheckInterval_BrokenFilesKeepTheOld()
    {
        string directory = Directory.CreateTempSubdirectory("engine-tls-reload-").FullName;
        try
        {
            using X509Certificate2 first = TestCertificates.Create("first");
            using X509Certificate2 second = TestCertificates.Create("second");
            (string certificate, string key) = TestCertificates.WritePem(first, directory);
            var clock = new ManualTimeProvider();
            using var source = new TlsCertificateSource(certificate, key, time: clock);
            Assert.Equal(first.Thumbprint, source.Current.Thumbprint);

            TestCertificates.WritePem(second, directory);
            File.SetLastWriteTimeUtc(certificate, DateTime.UtcNow.AddSeconds(5));
            Assert.Equal(first.Thumbprint, source.Current.Thumbprint);   // not rechecked yet
            clock.Advance(TlsCertificateSource.RecheckInterval);
            Assert.Equal(second.Thumbprint, source.Current.Thumbprint);
            Assert.Equal(1, source.Reloads);

            File.WriteAllText(certificate, "-----BEGIN CERTIFICATE-----\nnot a certificate\n");
            File.SetLastWriteTimeUtc(certificate, DateTime.UtcNow.AddSeconds(10));
            clock.Advance(TlsCertificateSource.RecheckInterval);
            Assert.Equal(second.Thumbprint, source.Current.Thumbprint);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    public static TheoryData<string> ChainFormats => new() { "pem", "pfx" };

    [Theory]
    [MemberData(nameof(ChainFormats))]
    public async Task Curl_TrustingOnlyTheRoot_VerifiesTheChainTheListenerSends(string format)
    {
        // A certificate from a public CA is signed by an intermediate the clients do not have: the
        // listener must send it with the leaf (certbot's fullchain.pem, a PFX exported with its chain).
        string directory = Directory.CreateTempSubdirectory("engine-tls-chain-").FullName;
        (X509Certificate2 root, X509Certificate2 intermediate, X509Certificate2 leaf) = TestCertificates.CreateChain();
        try
        {
            TlsCertificateSource source;
            if (format == "pem")
            {
                (string certificate, string key) = TestCertificates.WritePemChain(leaf, [intermediate], directory);
                source = new TlsCertificateSource(certificate, key);
            }
            else
            {
                source = new TlsCertificateSource(TestCertificates.WritePfxChain(leaf, [intermediate], directory, "secret"), password: "secret");
            }

            string rootPem = Path.Combine(directory, "root.pem");
            File.WriteAllText(rootPem, root.ExportCertificatePem());
            using (source)
            {
                Assert.Equal(leaf.Thumbprint, source.Current.Thumbprint);
                await using var proxy = new ProxyFixture(o => o.Tls = source);
                (int exit, string output, string error) = await CurlAsync("-s", "-S", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                    "-x", $"https://127.0.0.1:{proxy.TlsEndPoint.Port}", "--proxy-cacert", rootPem, "-U", $"country-us:{ProxyFixture.Key}",
                    $"http://127.0.0.1:{_origin.Port}/small");
                Assert.True(exit == 0, $"curl exit {exit}: {error}");
                Assert.Equal("200", output);
            }
        }
        finally
        {
            root.Dispose();
            intermediate.Dispose();
            leaf.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Source_Pfx_WithPassword_Loads()
    {
        string directory = Directory.CreateTempSubdirectory("engine-tls-pfx-").FullName;
        try
        {
            string pfx = TestCertificates.WritePfx(_certificate, directory, "secret");
            using var source = new TlsCertificateSource(pfx, password: "secret");
            Assert.True(source.Current.HasPrivateKey);
            Assert.Equal(_certificate.Thumbprint, source.Current.Thumbprint);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
