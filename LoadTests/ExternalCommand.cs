using System.Diagnostics;

namespace LoadTests;

/// <summary>Runs a helper program (a peer script, taskset, ss) to completion within a time limit.</summary>
internal static class ExternalCommand
{
    /// <summary>
    /// Runs <paramref name="program"/>; its stdout is returned, its stderr is passed on to ours (the
    /// scripts report progress there). Past <paramref name="timeout"/> or on cancellation it is
    /// killed by its PID, with its children. Exit code 127 when it cannot be started.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine("  " + e.Data);
            }
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"{program}: {e.Message}");
            return (127, string.Empty);
        }

        process.BeginErrorReadLine();
        Task<string> output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Console.Error.WriteLine($"{program}: stopped after {timeout.TotalSeconds:0} s or on request");
            cancellationToken.ThrowIfCancellationRequested();
            return (124, await output);
        }

        return (process.ExitCode, await output);
    }
}
