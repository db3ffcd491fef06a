using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Fixtures.Upstreams;

/// <summary>
/// One real upstream proxy process in the foreground, owned by a fixture: a fresh temp dir for its
/// config and logs, a free loopback port, a bounded wait until the port accepts TCP, and on dispose
/// a kill of exactly that PID and its descendants (dante forks its workers) and the temp dir's removal.
/// </summary>
internal sealed class UpstreamProcess : IAsyncDisposable
{
    /// <summary>
    /// How long a process may take to accept TCP after exec: squid needs about 1 s here, the engine
    /// (JIT, config) 1-2 s on a quiet box. 30 s because a start that misses it is now a failure, not a
    /// skip, and this 2-core box runs at a load average near 20 beside other builds: the full suite
    /// saw an engine child miss 10 s there.
    /// </summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Squid with shutdown_lifetime 0 exits about 1 s after SIGTERM; the others at once.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(3);

    private const int OutputTailChars = 4000;

    private readonly Process _process;
    private readonly StringBuilder _output;

    private UpstreamProcess(Process process, StringBuilder output, string directory, IPEndPoint endPoint)
    {
        _process = process;
        _output = output;
        Directory = directory;
        EndPoint = endPoint;
    }

    public string Directory { get; }

    public IPEndPoint EndPoint { get; }

    public int Pid => _process.Id;

    /// <summary>The full path of <paramref name="name"/> in a PATH folder, or null.</summary>
    public static string? FindOnPath(string name)
    {
        string path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (string folder in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>A loopback port that was free a moment ago (the proxy binds it itself, so a race is possible but rare).</summary>
    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public static DirectoryInfo CreateDirectory(string prefix)
    {
        DirectoryInfo directory = System.IO.Directory.CreateTempSubdirectory(prefix);
        // Readable by the unprivileged users squid and dante switch to (config, htpasswd).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory.FullName,
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        return directory;
    }

    /// <summary>A subfolder anyone may write: squid and dante write their logs after switching to an unprivileged user.</summary>
    public static string CreateWritableSubdirectory(string parent, string name)
    {
        string path = Path.Combine(parent, name);
        System.IO.Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
        }

        return path;
    }

    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>
    /// Starts <paramref name="executable"/> and waits for <paramref name="port"/> to accept TCP. On failure
    /// kills what started, deletes the directory and returns the reason with the output and log tails.
    /// With <paramref name="hermeticDns"/> the process sees a private /etc/resolv.conf naming the
    /// loopback resolver, so a test's name.invalid lookup never leaves the machine.
    /// </summary>
    public static async Task<(UpstreamProcess? Process, string? Failure)> StartAsync(
        string executable, IReadOnlyList<string> arguments, string directory, int port, string? logFile, bool hermeticDns,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo
        {
            WorkingDirectory = directory,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        if (hermeticDns && LoopbackDns.NamespaceWrapper(directory) is { } wrapper)
        {
            info.FileName = wrapper.FileName;
            foreach (string argument in wrapper.Arguments)
            {
                info.ArgumentList.Add(argument);
            }

            info.ArgumentList.Add(executable);
        }
        else
        {
            info.FileName = executable;
        }

        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            TryDelete(directory);
            return (null, $"{Path.GetFileName(executable)} did not start: {e.Message}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var upstream = new UpstreamProcess(process, output, directory, endPoint);
        string? failure = await upstream.WaitUntilListeningAsync();
        if (failure is null)
        {
            return (upstream, null);
        }

        string reason = $"{Path.GetFileName(executable)} on 127.0.0.1:{port} {failure}. Output: {upstream.OutputTail()} Log: {Tail(logFile)}";
        await upstream.DisposeAsync();
        return (null, reason);
    }

    private async Task<string?> WaitUntilListeningAsync()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
            {
                // Let the output readers drain.
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                return $"exited with code {_process.ExitCode}";
            }

            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await probe.ConnectAsync(EndPoint, attempt.Token);
                return null;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                await Task.Delay(50);
            }
        }

        return $"did not accept TCP within {StartTimeout.TotalSeconds:0} s";
    }

    public string OutputTail()
    {
        lock (_output)
        {
            return _output.Length == 0 ? "(none)" : _output.ToString();
        }
    }

    /// <summary>The last few KB of a log file, for a skip or failure message.</summary>
    public static string Tail(string? file)
    {
        try
        {
            if (file is null || !File.Exists(file))
            {
                return "(none)";
            }

            string text = File.ReadAllText(file);
            return text.Length <= OutputTailChars ? text : text[^OutputTailChars..];
        }
        catch (IOException e)
        {
            return $"(unreadable: {e.Message})";
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.Append(line).Append('\n');
            if (output.Length > OutputTailChars)
            {
                output.Remove(0, output.Length - OutputTailChars);
            }
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temp dir left behind is harmless; the test outcome must not depend on it.
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // SIGTERM first, so a forking server reaps its children (dante's workers, squid's auth helper)
            // instead of leaving them as zombies of an init that may not reap; SIGKILL to the whole tree
            // only if it is still there after the grace period.
            if (!_process.HasExited && !OperatingSystem.IsWindows() && NativeMethods.Kill(_process.Id, NativeMethods.SIGTERM) == 0)
            {
                await _process.WaitForExitAsync().WaitAsync(StopGrace);
            }
        }
        catch (TimeoutException)
        {
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or stuck in the kernel; nothing more a test can do.
        }
        finally
        {
            _process.Dispose();
            TryDelete(Directory);
        }
    }
}
