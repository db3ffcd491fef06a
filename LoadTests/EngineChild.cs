using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;

namespace LoadTests;

/// <summary>
/// The engine as a child process for <c>LoadTests peers</c>, pinned like the peers
/// (<c>taskset -c 1 dotnet Engine.dll --config …</c>), with an admin listener for its GC figures.
/// </summary>
internal sealed class EngineChild : IDisposable
{
    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(30);

    private readonly ChildProcess _process;

    private EngineChild(ChildProcess process, int port, int adminPort, string token)
    {
        _process = process;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        Metrics = new Uri($"http://127.0.0.1:{adminPort}/metrics");
        Token = token;
    }

    public IPEndPoint EndPoint { get; }

    public Uri Metrics { get; }

    public string Token { get; }

    /// <summary>The engine's own process (the wrapper's child), whose tree's CPU and RSS are read.</summary>
    public int Pid => _process.Pid;

    /// <summary>Its stdout and stderr.</summary>
    public string LogPath => _process.LogPath;

    /// <summary>Engine.dll or a published Engine executable: <paramref name="explicitPath"/>, else Engine's build output next to this LoadTests build (same configuration), else the copy in this build's folder.</summary>
    public static string FindDll(string? explicitPath)
    {
        if (explicitPath is not null)
        {
            return File.Exists(explicitPath) ? Path.GetFullPath(explicitPath) : throw new ArgumentException($"--engine {explicitPath}: no such file");
        }

        // AppContext.BaseDirectory is …/LoadTests/bin/<Configuration>/<tfm>/.
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        if (here.Parent?.Parent?.Parent?.Parent is { } repo)
        {
            string built = Path.Combine(repo.FullName, "Engine", "bin", here.Parent.Name, here.Name, "Engine.dll");
            if (File.Exists(built))
            {
                return built;
            }
        }

        string beside = Path.Combine(AppContext.BaseDirectory, "Engine.dll");
        return File.Exists(beside) ? beside : throw new ArgumentException("Engine.dll not found; build Engine or pass --engine PATH");
    }

    /// <param name="name">Names its config and log files in <paramref name="work"/>: the run's engine and a fresh one for the cold start run side by side.</param>
    /// <param name="port">Its proxy listener; the admin listener is on port + 90.</param>
    /// <param name="lifetime">The longest it may run (timeout(1)'s limit).</param>
    public static async Task<EngineChild> StartAsync(string dll, DirectoryInfo work, string name, int port, PeerOptions o, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        int adminPort = port + 90;
        foreach (int p in (int[])[port, adminPort])
        {
            if (await PeerProcesses.IsListeningAsync(p, cancellationToken))
            {
                throw new InvalidOperationException($"127.0.0.1:{p} is already in use (another engine?); pick others with --engine-port");
            }
        }

        string token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        string config = Path.Combine(work.FullName, name + ".json");
        await File.WriteAllTextAsync(config, Config(o, port, adminPort, token, Path.Combine(work.FullName, name + "-access.log")), cancellationToken);

        ChildProcess process = ChildProcess.Start([.. Launch(dll), "--config", config], config, o.Pin, lifetime, Path.Combine(work.FullName, name + ".log"));
        var engine = new EngineChild(process, port, adminPort, token);
        try
        {
            await process.WaitListeningAsync([port, adminPort], ReadyLimit, cancellationToken);
            return engine;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>
    /// How to run <paramref name="engine"/>: a build's Engine.dll through the dotnet host that runs
    /// this runner, a published native executable (<c>dotnet publish Engine</c>: Native AOT) as it is.
    /// </summary>
    internal static string[] Launch(string engine)
    {
        if (!engine.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return [engine];
        }

        string dotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        return [dotnet, engine];
    }

    /// <summary>
    /// The config of the brief: one http listener, private targets allowed (the origin is on
    /// loopback), CONNECT to the origin's port, 50,000 connections (2,000 idle tunnels are 4,000
    /// sockets), and IpAuth for 127.0.0.0/8 so clients without credentials get in, as they do at
    /// the peers. The access log goes to a file, rotated at 64 MiB × 2 so a long run cannot fill /tmp.
    /// </summary>
    internal static string Config(PeerOptions o, int port, int adminPort, string token, string accessLog) => $$"""
        { "Engine": {
            "Listeners": [ { "Endpoint": "127.0.0.1:{{port}}", "Protocol": "http" } ],
            "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [ {{o.Origin.Port}} ] },
            "Limits": { "MaxConnections": 50000 },
            "AccessLog": { "Enabled": {{(o.AccessLog ? "true" : "false")}}, "Path": {{JsonSerializer.Serialize(accessLog)}}, "MaxBytes": {{64 << 20}}, "MaxFiles": 2 },
            "Admin": { "Endpoint": "127.0.0.1:{{adminPort}}", "Token": "{{token}}" },
            "Packages": [ { "Id": "bench", "Key": "bench-key", "DefaultRules": "country-any", "IpAuth": [ "127.0.0.0/8" ] } ],
            "Nodes": [ { "Id": "local", "Type": "direct" } ] } }
        """;

    public void Dispose() => _process.Dispose();
}
