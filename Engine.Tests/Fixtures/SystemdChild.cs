using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Engine.Tests.Fixtures.Upstreams;

namespace Engine.Tests.Fixtures;

/// <summary>
/// A real engine process started the way systemd starts it: through a small python3 wrapper that
/// sets <c>WATCHDOG_PID</c> and <c>LISTEN_PID</c> to its own pid, moves a passed listening socket
/// to fd 3 (<c>LISTEN_FDS=1</c>), and execs <c>dotnet Engine.dll</c> (exec keeps the pid, so the
/// variables name the engine). .NET cannot hand a child an arbitrary fd, so the test's socket is
/// made inheritable just around the start. Killed by PID on dispose.
/// </summary>
internal sealed partial class SystemdChild : IAsyncDisposable
{
    private const string Wrapper = """
        import os, sys
        fd = int(sys.argv[1])
        if fd >= 0:
            if fd != 3:
                os.dup2(fd, 3)
                os.close(fd)
            os.set_inheritable(3, True)
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_FDNAMES"] = "http"
            os.environ["LISTEN_PID"] = str(os.getpid())
        if os.environ.get("WATCHDOG_USEC"):
            os.environ["WATCHDOG_PID"] = str(os.getpid())
        os.execv(sys.argv[2], sys.argv[2:])
        """;

    private const int F_SETFD = 2;
    private const int F_GETFD = 1;
    private const int FD_CLOEXEC = 1;
    private const int SIGTERM = 15;

    private static readonly Lock s_inheritLock = new();

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SystemdChild(Process process) => _process = process;

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Why a child cannot be started here, or null.</summary>
    public static string? UnavailableReason =>
        OperatingSystem.IsLinux() ? UpstreamProcess.FindOnPath("python3") is null ? "python3 is not on PATH" : null : "socket activation and sd_notify are Linux-only";

    /// <summary>Starts <c>dotnet Engine.dll --config <paramref name="configFile"/></c> with <paramref name="environment"/> and optionally <paramref name="listening"/> as fd 3.</summary>
    public static SystemdChild Start(string configFile, IReadOnlyDictionary<string, string> environment, Socket? listening = null)
    {
        (string dotnet, string engine) = EngineProcess.Command();

        int fd = listening is null ? -1 : (int)listening.SafeHandle.DangerousGetHandle();
        var info = new ProcessStartInfo
        {
            FileName = UpstreamProcess.FindOnPath("python3") ?? throw Tools.Unavailable("python3 is not on PATH"),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        string[] command = engine.Length > 0 ? [dotnet, engine] : [dotnet];   // a published executable runs as it is
        foreach (string argument in (string[])["-c", Wrapper, fd.ToString(CultureInfo.InvariantCulture), .. command, "--config", configFile])
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        var child = new SystemdChild(process);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);

        // Sockets are opened close-on-exec; clear the flag only for the fork+exec of this child.
        lock (s_inheritLock)
        {
            int flags = fd >= 0 ? Fcntl(fd, F_GETFD, 0) : 0;
            try
            {
                if (fd >= 0 && Fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) != 0)
                {
                    throw new InvalidOperationException($"fcntl(F_SETFD) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                process.Start();
            }
            finally
            {
                if (fd >= 0)
                {
                    Fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
                }
            }
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>SIGTERM, as systemd's stop sends it.</summary>
    public void Terminate() => NativeMethods.Kill(_process.Id, SIGTERM);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.Append(line).Append('\n');
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or stuck in the kernel; nothing more a test can do.
        }
        finally
        {
            _process.Dispose();
        }
    }
}
