using System.Diagnostics;
using System.Globalization;

namespace LoadTests;

/// <summary>
/// A server that <c>LoadTests peers</c> starts itself (the engine, a fresh HAProxy for the cold
/// start), pinned like the peers (<c>taskset -c 1</c>) unless the run is unpinned, its output in a
/// log file. It runs under timeout(1): should this runner be killed outright, the server still ends
/// once the run's time budget is over. Disposing kills it (and the timeout wrapper) by PID.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _wrapper;
    private readonly StreamWriter _log;
    private readonly string _marker;

    private ChildProcess(Process wrapper, StreamWriter log, string logPath, string marker)
    {
        _wrapper = wrapper;
        _log = log;
        LogPath = logPath;
        _marker = marker;
    }

    /// <summary>The server's own process (the wrapper's child), whose tree's CPU and RSS are read; 0 until it is known.</summary>
    public int Pid { get; private set; }

    public string LogPath { get; }

    /// <param name="command">The program and its arguments; one of them must be unique to this run (<paramref name="marker"/>, a generated config's path).</param>
    /// <param name="lifetime">The longest it may run (timeout(1)'s limit).</param>
    public static ChildProcess Start(IReadOnlyList<string> command, string marker, bool pin, TimeSpan lifetime, string logPath,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        // timeout(1) forks the server and forwards signals to it; taskset execs into the server, so
        // the wrapper's only child is the server's own process.
        var start = new ProcessStartInfo("timeout") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--kill-after=5");
        start.ArgumentList.Add(((int)lifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        if (pin)
        {
            start.ArgumentList.Add("taskset");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("1");
        }

        foreach (string arg in command)
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var log = new StreamWriter(logPath) { AutoFlush = true };
        var wrapper = new Process { StartInfo = start };
        wrapper.OutputDataReceived += (_, e) => Write(log, e.Data);
        wrapper.ErrorDataReceived += (_, e) => Write(log, e.Data);
        wrapper.Start();
        wrapper.BeginOutputReadLine();
        wrapper.BeginErrorReadLine();
        return new ChildProcess(wrapper, log, logPath, marker);
    }

    /// <summary>Waits until the server's process is known and every one of <paramref name="ports"/> accepts connections.</summary>
    public async Task WaitListeningAsync(IReadOnlyList<int> ports, TimeSpan limit, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_wrapper.HasExited)
            {
                throw new InvalidOperationException($"{Path.GetFileName(LogPath)}: the process exited ({_wrapper.ExitCode}) before it listened; see {LogPath}");
            }

            if (Pid == 0 && ProcessTree.Of(_wrapper.Id) is [_, int child, ..])
            {
                Pid = child;
            }

            if (Pid != 0 && await AllListeningAsync(ports, cancellationToken))
            {
                return;
            }

            if (Stopwatch.GetElapsedTime(started) > limit)
            {
                throw new TimeoutException($"{Path.GetFileName(LogPath)}: nothing listened on 127.0.0.1:{string.Join(", ", ports)} within {limit.TotalSeconds:0} s");
            }

            // 10 ms: a cold-start figure counts from the moment the port accepts.
            await Task.Delay(10, cancellationToken);
        }
    }

    private static async Task<bool> AllListeningAsync(IReadOnlyList<int> ports, CancellationToken cancellationToken)
    {
        foreach (int port in ports)
        {
            if (!await PeerProcesses.IsListeningAsync(port, cancellationToken))
            {
                return false;
            }
        }

        return true;
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

    private bool RunsOurCommand(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(_marker, StringComparison.Ordinal);
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

        // The server itself, should the tree walk above have missed it (reparented after the wrapper
        // died); only if that PID still runs our command, not a process that reused the number.
        if (ProcessTree.IsAlive(Pid) && RunsOurCommand(Pid))
        {
            try
            {
                using var server = Process.GetProcessById(Pid);
                server.Kill();
                server.WaitForExit(TimeSpan.FromSeconds(10));
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
