using System.Diagnostics;
using System.Net;

namespace Engine.Tests.Fixtures.Upstreams;

/// <summary>
/// Squid in the foreground (-N) on a free loopback port, no cache, CONNECT to every port, optionally
/// behind Basic credentials checked by basic_ncsa_auth against an htpasswd file made with openssl.
/// Its DNS goes to <see cref="LoopbackDns"/> only (dns_nameservers), so name.invalid stays on loopback.
/// </summary>
internal sealed class Squid : IAsyncDisposable
{
    private static readonly string[] NcsaHelperPaths = ["/usr/lib/squid/basic_ncsa_auth", "/usr/lib64/squid/basic_ncsa_auth", "/usr/libexec/squid/basic_ncsa_auth"];


    private readonly UpstreamProcess _process;

    private Squid(UpstreamProcess process, string? user, string? password)
    {
        _process = process;
        User = user;
        Password = password;
    }

    /// <summary>Why tests that need squid skip (fail under CI): not on PATH.</summary>
    public static string? UnavailableReason =>
        UpstreamProcess.FindOnPath("squid") is null ? "squid is not on PATH (apt-get install squid)" : null;

    /// <summary>Why squid cannot be started with credentials (no basic_ncsa_auth helper, or no openssl to hash the password).</summary>
    public static string? CredentialsUnavailableReason =>
        UnavailableReason
        ?? (NcsaHelper is null ? "squid's basic_ncsa_auth helper is not installed" : null)
        ?? (UpstreamProcess.FindOnPath("openssl") is null ? "openssl is not on PATH (needed to write the htpasswd file)" : null);

    private static string? NcsaHelper => NcsaHelperPaths.FirstOrDefault(File.Exists);

    public IPEndPoint EndPoint => _process.EndPoint;

    public string? User { get; }

    public string? Password { get; }

    public int Pid => _process.Pid;

    /// <summary>Starts squid; with <paramref name="user"/> it requires Basic credentials. Throws <see cref="Tools.Unavailable"/> (a skip, a failure under CI) when it cannot run.</summary>
    /// <param name="port">A port to listen on (a restart on the one a killed squid had); null: a free one.</param>
    public static async Task<Squid> StartAsync(string? user = null, string? password = null, int? port = null)
    {
        string? unavailable = user is null ? UnavailableReason : CredentialsUnavailableReason;
        if (unavailable is not null)
        {
            throw Tools.Unavailable(unavailable);
        }

        string executable = UpstreamProcess.FindOnPath("squid")!;
        // Starts the loopback resolver that dns_nameservers names.
        _ = LoopbackDns.UnavailableReason;
        int listenPort = port ?? UpstreamProcess.FreePort();
        string directory = UpstreamProcess.CreateDirectory("squid-").FullName;
        string logs = UpstreamProcess.CreateWritableSubdirectory(directory, "logs");

        string auth = string.Empty;
        if (user is not null)
        {
            string htpasswd = Path.Combine(directory, "htpasswd");
            string? hash = await HashAsync(password ?? string.Empty);
            if (hash is null)
            {
                throw Tools.Unavailable("openssl passwd -apr1 failed; squid cannot be given credentials");
            }

            await File.WriteAllTextAsync(htpasswd, $"{user}:{hash}\n");
            auth = $"""
                auth_param basic program {NcsaHelper} {htpasswd}
                auth_param basic children 1 startup=1 idle=1
                auth_param basic realm test
                acl authed proxy_auth REQUIRED
                http_access deny !authed
                """;
        }

        // No "http_access deny CONNECT !SSL_ports" (the stock config's rule): CONNECT to any port is allowed.
        // cache_effective_user: squid refuses to serve as root and switches to it.
        string config = $"""
            http_port 127.0.0.1:{listenPort}
            pid_filename {logs}/squid.pid
            access_log stdio:{logs}/access.log
            cache_log {logs}/cache.log
            cache_store_log none
            coredump_dir {logs}
            cache deny all
            cache_mem 8 MB
            {(UpstreamProcess.IsRoot ? "cache_effective_user proxy" : string.Empty)}
            pinger_enable off
            visible_hostname enginetest
            shutdown_lifetime 0 seconds
            dns_nameservers {LoopbackDns.Address}
            dns_timeout 3 seconds
            connect_timeout 5 seconds
            forward_timeout 10 seconds
            {auth}
            http_access allow localhost
            http_access deny all

            """;
        string configPath = Path.Combine(directory, "squid.conf");
        await File.WriteAllTextAsync(configPath, config);

        // -N: no daemon, no kid process (the PID is the server); -n: a service name of our own so two
        // instances never share a name-derived resource.
        string service = $"enginetest{listenPort}";
        (UpstreamProcess? process, string? failure) = await UpstreamProcess.StartAsync(
            executable, ["-N", "-n", service, "-f", configPath], directory, listenPort, Path.Combine(logs, "cache.log"), hermeticDns: false);
        if (process is null)
        {
            throw Tools.Unavailable(failure);
        }

        return new Squid(process, user, password);
    }

    private static async Task<string?> HashAsync(string password)
    {
        var info = new ProcessStartInfo(UpstreamProcess.FindOnPath("openssl")!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // The password goes on stdin, not the command line.
        foreach (string argument in new[] { "passwd", "-apr1", "-stdin" })
        {
            info.ArgumentList.Add(argument);
        }

        using Process openssl = Process.Start(info)!;
        await openssl.StandardInput.WriteLineAsync(password);
        openssl.StandardInput.Close();
        Task<string> output = openssl.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await openssl.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            openssl.Kill();
            return null;
        }

        string hash = (await output).Trim();
        return openssl.ExitCode == 0 && hash.StartsWith("$apr1$", StringComparison.Ordinal) ? hash : null;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
