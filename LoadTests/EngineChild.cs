using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;

namespace LoadTests;

/// <summary>
/// The engine as a child process for <c>LoadTests peers</c>, pinned like the peers
/// (<c>taskset -c 1 dotnet Engine.dll --config …</c>), with an admin listener for its GC figures.
/// It runs under timeout(1): should this runner be killed outright, the engine still ends once
/// the run's time budget is over. Disposing kills it (and the timeout wrapper) by PID.
/// </summary>
internal sealed class EngineChild : IDisposable
{
    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(30);

    private readonly Process _wrapper;
    private readonly StreamWriter _log;
    private readonly string _config;

    private EngineChild(Process wrapper, StreamWriter log, int port, int adminPort, string token, string config)
    {
        _wrapper = wrapper;
        _config = config;
        _log = log;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        Metrics = new Uri($"http://127.0.0.1:{adminPort}/metrics");
        Token = token;
    }

    public IPEndPoint EndPoint { get; }

    public Uri Metrics { get; }

    public string Token { get; }

    /// <summary>The engine's own process (the wrapper's child), whose tree's CPU and RSS are read.</summary>
    public int Pid { get; private set; }

    /// <summary>Engine.dll: <paramref name="explicitPath"/>, else Engine's build output next to this LoadTests build (same configuration), else the copy in this build's folder.</summary>
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

    /// <param name="lifetime">The longest it may run (timeout(1)'s limit).</param>
    public static async Task<EngineChild> StartAsync(string dll, DirectoryInfo work, PeerOptions o, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        int adminPort = o.EnginePort + 90;
        foreach (int port in (int[])[o.EnginePort, adminPort])
        {
            if (await PeerProcesses.IsListeningAsync(port, cancellationToken))
            {
                throw new InvalidOperationException($"127.0.0.1:{port} is already in use (another engine?); pick others with --engine-port");
            }
        }

        string token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        string config = Path.Combine(work.FullName, "engine.json");
        await File.WriteAllTextAsync(config, Config(o, adminPort, token, Path.Combine(work.FullName, "access.log")), cancellationToken);

        // timeout(1) forks the engine and forwards signals to it; taskset execs into dotnet, so the
        // wrapper's only child is the engine's own process.
        var start = new ProcessStartInfo("timeout") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])["--kill-after=5", ((int)lifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(arg);
        }

        if (o.Pin)
        {
            start.ArgumentList.Add("taskset");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("1");
        }

        string dotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        foreach (string arg in (string[])[dotnet, dll, "--config", config])
        {
            start.ArgumentList.Add(arg);
        }

        var log = new StreamWriter(Path.Combine(work.FullName, "engine.log")) { AutoFlush = true };
        var wrapper = new Process { StartInfo = start };
        wrapper.OutputDataReceived += (_, e) => Write(log, e.Data);
        wrapper.ErrorDataReceived += (_, e) => Write(log, e.Data);
        wrapper.Start();
        wrapper.BeginOutputReadLine();
        wrapper.BeginErrorReadLine();
        var engine = new EngineChild(wrapper, log, o.EnginePort, adminPort, token, config);
        try
        {
            await engine.WaitReadyAsync(cancellationToken);
            return engine;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.WriteLine(line);
            }
        }
    }

    /// <summary>
    /// The config of the brief: one http listener, private targets allowed (the origin is on
    /// loopback), CONNECT to the origin's port, 50,000 connections (2,000 idle tunnels are 4,000
    /// sockets), and IpAuth for 127.0.0.0/8 so clients without credentials get in, as they do at
    /// the peers. The access log goes to a file, rotated at 64 MiB × 2 so a long run cannot fill /tmp.
    /// </summary>
    internal static string Config(PeerOptions o, int adminPort, string token, string accessLog) => $$"""
        { "Engine": {
            "Listeners": [ { "Endpoint": "127.0.0.1:{{o.EnginePort}}", "Protocol": "http" } ],
            "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [ {{o.Origin.Port}} ] },
            "Limits": { "MaxConnections": 50000 },
            "AccessLog": { "Enabled": {{(o.AccessLog ? "true" : "false")}}, "Path": {{JsonSerializer.Serialize(accessLog)}}, "MaxBytes": {{64 << 20}}, "MaxFiles": 2 },
            "Admin": { "Endpoint": "127.0.0.1:{{adminPort}}", "Token": "{{token}}" },
            "Packages": [ { "Id": "bench", "Key": "bench-key", "DefaultRules": "country-any", "IpAuth": [ "127.0.0.0/8" ] } ],
            "Nodes": [ { "Id": "local", "Type": "direct" } ] } }
        """;

    private async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_wrapper.HasExited)
            {
                throw new InvalidOperationException($"the engine exited ({_wrapper.ExitCode}) before it was ready; see {((FileStream)_log.BaseStream).Name}");
            }

            if (Pid == 0 && ProcessTree.Of(_wrapper.Id) is [_, int child, ..])
            {
                Pid = child;
            }

            if (Pid != 0 && await PeerProcesses.IsListeningAsync(EndPoint.Port, cancellationToken)
                && await PeerProcesses.IsListeningAsync(Metrics.Port, cancellationToken))
            {
                return;
            }

            if (Stopwatch.GetElapsedTime(started) > ReadyLimit)
            {
                throw new TimeoutException($"the engine did not listen on {EndPoint} within {ReadyLimit.TotalSeconds:0} s");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private bool RunsOurConfig(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(_config, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_wrapper.HasExited)
            {
                _wrapper.Kill(entireProcessTree: true);
                _wrapper.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }

        // The engine itself, should the tree walk above have missed it (reparented after the wrapper
        // died); only if that PID still runs our config, not a process that reused the number.
        if (ProcessTree.IsAlive(Pid) && RunsOurConfig(Pid))
        {
            try
            {
                using var engine = Process.GetProcessById(Pid);
                engine.Kill();
                engine.WaitForExit(TimeSpan.FromSeconds(10));
            }
            catch (ArgumentException)
            {
            }
        }

        _wrapper.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }
}
