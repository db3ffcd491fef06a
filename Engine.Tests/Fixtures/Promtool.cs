using System.Diagnostics;
using Xunit.Abstractions;

namespace Engine.Tests.Fixtures;

/// <summary>Prometheus's own linter, when installed (apt-get install prometheus): the neutral check of our exposition.</summary>
internal static class Promtool
{
    /// <summary>
    /// <c>promtool check metrics</c> over <paramref name="exposition"/> on stdin: its exit code and
    /// everything it printed (lint findings are printed even on exit 0), also written to <paramref name="output"/>.
    /// </summary>
    public static async Task<(int ExitCode, string Printed)> CheckMetricsAsync(string promtool, string exposition, ITestOutputHelper output)
    {
        var start = new ProcessStartInfo(promtool, "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        string printed = await stdout + await stderr;
        output.WriteLine($"promtool check metrics: exit {process.ExitCode}\n{printed}");
        return (process.ExitCode, printed);
    }
}
