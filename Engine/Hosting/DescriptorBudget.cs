using System.Runtime.InteropServices;

namespace Engine.Hosting;

/// <summary>
/// How many client connections the process's descriptor limit can carry. Each connection may hold
/// two descriptors (the client and the upstream socket), and the runtime needs some of its own
/// beyond those already open at start: a .NET process that runs out of descriptors can die with
/// "Out of memory." when it next creates a thread (measured: a flooded engine under
/// <c>prlimit --nofile=256</c> died in about half the runs; with this cap it never reached the limit).
/// </summary>
internal static partial class DescriptorBudget
{
    /// <summary>Descriptors kept free for the runtime, DNS, Redis, log files and the admin listener.</summary>
    public const int Reserve = 64;

    private const int RlimitNofile = 7;   // RLIMIT_NOFILE on Linux

    /// <summary>
    /// <paramref name="configured"/>, or fewer when <c>(limit − open now − Reserve) / 2</c> is
    /// smaller; <paramref name="limit"/> is the soft RLIMIT_NOFILE, 0 when unknown (not Linux).
    /// </summary>
    public static long Cap(long configured, out ulong limit)
    {
        limit = SoftLimit();
        if (limit == 0 || limit >= long.MaxValue)
        {
            return configured;
        }

        int open = OpenDescriptors();
        long budget = Math.Max(1, ((long)limit - open - Reserve) / 2);
        return Math.Min(configured, budget);
    }

    private static ulong SoftLimit()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        try
        {
            return GetRLimit(RlimitNofile, out RLimit value) == 0 ? value.Current : 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 0;
        }
    }

    private static int OpenDescriptors()
    {
        try
        {
            return Directory.GetFiles("/proc/self/fd").Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit value);
}
