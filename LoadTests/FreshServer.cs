using System.Text.RegularExpressions;

namespace LoadTests;

/// <summary>
/// A target started anew for the cold-start figure, beside the one the run measures: the engine
/// (its own config, listener on <c>--engine-port</c> + 1, admin + 91) or HAProxy in http mode (the
/// peer scripts' haproxy-http.cfg bound to <c>--engine-port</c> + 2). Pinned like the run; disposing
/// stops it by PID.
/// </summary>
internal sealed partial class FreshServer : IDisposable
{
    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(30);

    private readonly IDisposable _process;

    private FreshServer(IDisposable process, PeerTarget target, int pid, EngineChild? engine = null)
    {
        _process = process;
        Target = target;
        Pid = pid;
        Engine = engine;
    }

    /// <summary>The fresh engine (its /metrics), or null for HAProxy.</summary>
    public EngineChild? Engine { get; }

    /// <summary>The target as the fresh process serves it (its own port).</summary>
    public PeerTarget Target { get; }

    public int Pid { get; }

    /// <summary>The targets that can be started anew: the engine and HAProxy in http mode (whose config this run can copy).</summary>
    public static bool CanStart(PeerTarget target) => target.IsEngine || target.Name == "haproxy-http";

    /// <summary>Starts <paramref name="target"/> anew and returns once it accepts connections: the cold window starts then.</summary>
    public static async Task<FreshServer> StartAsync(PeerTarget target, string? engineDll, DirectoryInfo work, PeerOptions o, CancellationToken cancellationToken)
    {
        TimeSpan lifetime = o.ColdLifetime;
        if (target.IsEngine)
        {
            int port = o.EnginePort + 1;
            EngineChild engine = await EngineChild.StartAsync(engineDll!, work, "engine-cold", port, o, lifetime, cancellationToken);
            return new FreshServer(engine, target with { Port = port }, engine.Pid, engine);
        }

        if (target.Name != "haproxy-http")
        {
            throw new ArgumentException($"{target.Name} cannot be started anew by this run", nameof(target));
        }

        int haproxyPort = o.EnginePort + 2;
        if (await PeerProcesses.IsListeningAsync(haproxyPort, cancellationToken))
        {
            throw new InvalidOperationException($"127.0.0.1:{haproxyPort} is already in use; pick others with --engine-port");
        }

        string config = Path.Combine(work.FullName, "haproxy-cold.cfg");
        string original = await File.ReadAllTextAsync(Path.Combine(o.Scripts, "conf", "haproxy-http.cfg"), cancellationToken);
        await File.WriteAllTextAsync(config, Rebind(original, haproxyPort), cancellationToken);
        ChildProcess haproxy = ChildProcess.Start(["haproxy", "-db", "-f", config], config, o.Pin, lifetime, Path.Combine(work.FullName, "haproxy-cold.log"));
        try
        {
            await haproxy.WaitListeningAsync([haproxyPort], ReadyLimit, cancellationToken);
        }
        catch
        {
            haproxy.Dispose();
            throw;
        }

        return new FreshServer(haproxy, target with { Port = haproxyPort }, haproxy.Pid);
    }

    /// <summary>The peer config with its one <c>bind 127.0.0.1:PORT</c> moved to <paramref name="port"/>.</summary>
    internal static string Rebind(string config, int port)
    {
        string moved = BindLine().Replace(config, $"${{1}}{port}", 1);
        return moved != config ? moved : throw new InvalidOperationException("haproxy-http.cfg has no 'bind 127.0.0.1:PORT' line to move");
    }

    /// <summary>Its threads now (HAProxy's nbthread: 1 pinned to one core, 2 unpinned on this box); 0 when it is gone.</summary>
    public int Threads()
    {
        try
        {
            return ProcStat.Threads(Pid);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public void Dispose() => _process.Dispose();

    [GeneratedRegex(@"(^\s*bind\s+127\.0\.0\.1:)\d+", RegexOptions.Multiline)]
    private static partial Regex BindLine();
}
