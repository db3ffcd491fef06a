using System.Net.Sockets;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Engine.Tests.Fixtures;

/// <summary>
/// The socket mode the tests run in. <see cref="Initialize"/> is the module initializer: it asks for
/// the daemon's mode (inline completions, as Program.Main sets) for a host that did not already set
/// it; under <c>dotnet test</c> production.runsettings has set it before the host's first socket.
/// </summary>
internal static class SocketMode
{
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries", Justification = "A test assembly: the mode must be chosen before the first test opens a socket.")]
    internal static void Initialize()
    {
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            Environment.SetEnvironmentVariable(Variable, "1");
        }
    }

    /// <summary>
    /// What the runtime decided (it reads the variable once, at its first socket operation): the
    /// static <c>InlineSocketCompletionsEnabled</c> of System.Net.Sockets' epoll engine, or null when
    /// this runtime has no such member.
    /// </summary>
    public static bool? RuntimeInlineCompletions()
    {
        foreach (Type type in typeof(Socket).Assembly.GetTypes())
        {
            const BindingFlags flags = BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public;
            if (type.GetField("InlineSocketCompletionsEnabled", flags) is { } field)
            {
                return (bool?)field.GetValue(null);
            }

            if (type.GetProperty("InlineSocketCompletionsEnabled", flags) is { } property)
            {
                return (bool?)property.GetValue(null);
            }
        }

        return null;
    }
}
