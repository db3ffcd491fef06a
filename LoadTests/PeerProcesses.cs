using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace LoadTests;

/// <summary>
/// The origin and the peers, started and stopped with the peer scripts (start-peers.sh,
/// stop-peers.sh; read-only, called in place), and their process ids from the scripts' PID files.
/// Only what this run started is stopped: another run (or a person) may be using the same origin
/// and peers, and stop-peers.sh alone would stop every recorded PID, so it is given a copy of
/// this run's PID files alone (its RUN_DIR knob).
/// </summary>
internal sealed partial class PeerProcesses
{
    // start-peers.sh waits up to 20 s per process and writes the 256 MiB /big once.
    private static readonly TimeSpan StartLimit = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan StopLimit = TimeSpan.FromMinutes(1);

    private readonly string _scripts;
    private readonly Dictionary<string, int> _started;

    private PeerProcesses(string scripts, Dictionary<string, int> started)
    {
        _scripts = scripts;
        _started = started;
    }

    /// <summary>The scripts' state directory (lib.sh: RUN_DIR, default /tmp/peerbench).</summary>
    public static string RunDir => Environment.GetEnvironmentVariable("RUN_DIR") ?? "/tmp/peerbench";

    public IReadOnlyCollection<string> Started => _started.Keys;

    /// <summary>
    /// Starts those of <paramref name="names"/> (start-peers.sh names: origin, squid, …) that are
    /// neither running from a PID file nor listening already; they are used as they are.
    /// </summary>
    public static async Task<PeerProcesses> StartAsync(string scripts, IEnumerable<(string Name, int Port)> names, bool pin, CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        foreach ((string name, int port) in names)
        {
            if (PidFromFile(name) is int pid)
            {
                Console.Error.WriteLine($"{name}: already running (pid {pid}); used as it is, not stopped at the end");
            }
            else if (await IsListeningAsync(port, cancellationToken))
            {
                Console.Error.WriteLine($"{name}: something already listens on {port}; used as it is, not stopped at the end");
            }
            else
            {
                missing.Add(name);
            }
        }

        var started = new Dictionary<string, int>(StringComparer.Ordinal);
        if (missing.Count > 0)
        {
            Console.Error.WriteLine($"start-peers.sh {string.Join(' ', missing)}");
            var environment = new Dictionary<string, string> { ["PIN"] = pin ? "1" : "0" };
            try
            {
                await ExternalCommand.RunAsync(Path.Combine(scripts, "start-peers.sh"), missing, StartLimit, environment, cancellationToken);
            }
            finally
            {
                // Whatever did start is ours to stop, even when the script was interrupted.
                foreach (string name in missing)
                {
                    if (PidFromFile(name) is int pid)
                    {
                        started[name] = pid;
                    }
                }
            }
        }

        return new PeerProcesses(scripts, started);
    }

    /// <summary>Stops what <see cref="StartAsync"/> started, by the PIDs it recorded, through stop-peers.sh.</summary>
    public async Task StopAsync()
    {
        if (_started.Count == 0)
        {
            return;
        }

        DirectoryInfo own = Directory.CreateTempSubdirectory("loadtests-peers-stop-");
        try
        {
            Directory.CreateDirectory(Path.Combine(own.FullName, "pids"));
            foreach ((string name, int pid) in _started)
            {
                await File.WriteAllTextAsync(Path.Combine(own.FullName, "pids", name + ".pid"), pid.ToString(CultureInfo.InvariantCulture));
            }

            await ExternalCommand.RunAsync(Path.Combine(_scripts, "stop-peers.sh"), [], StopLimit, new Dictionary<string, string> { ["RUN_DIR"] = own.FullName });
            foreach ((string name, int pid) in _started)
            {
                string file = PidFile(name);
                if (File.Exists(file) && (await File.ReadAllTextAsync(file)).Trim() == pid.ToString(CultureInfo.InvariantCulture))
                {
                    File.Delete(file);
                }
            }
        }
        finally
        {
            own.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The process serving a peer: its PID file's, or (for one started by hand) the process that
    /// listens on its port, as lib.sh's listen_pids finds it; 0 when neither is found.
    /// </summary>
    public static async Task<int> PidOfAsync(string name, int port, CancellationToken cancellationToken)
    {
        if (PidFromFile(name) is int pid)
        {
            return pid;
        }

        (int exit, string output) = await ExternalCommand.RunAsync("ss", ["-ltnpH", $"( sport = :{port} )"], TimeSpan.FromSeconds(10), cancellationToken: cancellationToken);
        return exit == 0 ? ListeningPids(output).FirstOrDefault() : 0;
    }

    /// <summary>The <c>pid=N</c> entries of <c>ss -ltnpH</c> output, lowest first.</summary>
    internal static List<int> ListeningPids(string ssOutput) =>
        [.. SsPid().Matches(ssOutput).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().Order()];

    public static async Task<bool> IsListeningAsync(int port, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), limit.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static string PidFile(string name) => Path.Combine(RunDir, "pids", name + ".pid");

    /// <summary>The PID in the scripts' file for <paramref name="name"/> when that process is alive.</summary>
    private static int? PidFromFile(string name)
    {
        try
        {
            return int.TryParse(File.ReadAllText(PidFile(name)).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && ProcessTree.IsAlive(pid)
                ? pid
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"pid=(\d+)")]
    private static partial Regex SsPid();
}
