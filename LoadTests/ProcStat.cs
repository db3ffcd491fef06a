using System.Globalization;

namespace LoadTests;

/// <summary>Another process's CPU time, RSS and thread count, from /proc (Linux).</summary>
internal static class ProcStat
{
    // USER_HZ: 100 on every mainstream Linux build (sysconf(_SC_CLK_TCK)).
    private const double TicksPerSecond = 100;

    public static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long user = long.Parse(fields[11], CultureInfo.InvariantCulture);
        long system = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return (user + system) / TicksPerSecond;
    }

    public static long RssBytes(int pid)
    {
        string? line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The process's threads (HAProxy starts one per core it may run on: its nbthread).</summary>
    public static int Threads(int pid)
    {
        string? line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Threads:", StringComparison.Ordinal));
        return line is null ? 0 : int.Parse(line.AsSpan("Threads:".Length).Trim(), CultureInfo.InvariantCulture);
    }
}
