using System.Globalization;

namespace LoadTests;

/// <summary>
/// A process and all its descendants, from the parent ids in /proc/*/stat: Squid and Traffic
/// Server fork helpers, so a proxy's CPU and memory are the sum over its tree (as the peer
/// scripts' lib.sh counts them). Processes that exit between listing and reading count as 0.
/// </summary>
internal static class ProcessTree
{
    public static List<int> Of(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && TryRead($"{dir}/stat") is { } stat && ParentOf(stat) is int parent)
            {
                if (!children.TryGetValue(parent, out List<int>? list))
                {
                    children[parent] = list = [];
                }

                list.Add(pid);
            }
        }

        var tree = new List<int> { root };
        for (int i = 0; i < tree.Count; i++)
        {
            if (children.TryGetValue(tree[i], out List<int>? kids))
            {
                tree.AddRange(kids);
            }
        }

        return tree;
    }

    /// <summary>utime + stime of every process of the tree, threads included.</summary>
    public static double CpuSeconds(int root) => Of(root).Sum(pid => Guard(() => ProcStat.CpuSeconds(pid)));

    /// <summary>Sum of VmRSS over the tree (shared pages of forked children counted in each).</summary>
    public static long RssBytes(int root) => Of(root).Sum(pid => Guard(() => ProcStat.RssBytes(pid)));

    public static bool IsAlive(int pid) => pid > 0 && TryRead($"/proc/{pid}/stat") is { } stat && StateOf(stat) is not ('Z' or 'X' or '\0');

    /// <summary>The ppid field of a /proc/PID/stat line (the 4th; the 2nd, the command, may hold spaces and parentheses).</summary>
    public static int? ParentOf(string stat)
    {
        string[] fields = AfterCommand(stat);
        return fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out int parent) ? parent : null;
    }

    private static char StateOf(string stat) => AfterCommand(stat) is [{ Length: > 0 } state, ..] ? state[0] : '\0';

    private static string[] AfterCommand(string stat)
    {
        int close = stat.LastIndexOf(')');
        return close < 0 || close + 2 > stat.Length ? [] : stat[(close + 2)..].Split(' ');
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static T Guard<T>(Func<T> read) where T : struct
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return default;
        }
    }
}
