using System.Runtime.InteropServices;

namespace Engine.Tests.Fixtures.Upstreams;

internal static partial class NativeMethods
{
    public const int SIGTERM = 15;

    /// <summary>kill(2): .NET's Process.Kill only sends SIGKILL, which leaves a forking server no time to reap its children.</summary>
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}
