namespace Engine.Tests.Fixtures;

/// <summary>
/// What a test does when a real tool it needs (redis-server, squid, promtool, chromium, …) is missing
/// or fails to start. On a developer's machine it skips with the reason; under CI (<c>CI=true</c>, which
/// CI services set) or with <c>ENGINE_TESTS_REQUIRE_ALL=1</c> it fails with the same reason, so a green
/// CI run means every test ran. An engine child process that fails to start is never a tool problem:
/// <see cref="EngineProcess"/> throws a plain failure, CI or not.
/// </summary>
internal static class Tools
{
    /// <summary>True when a missing tool must fail the test instead of skipping it.</summary>
    public static bool RequireAll { get; } = IsRequireAll(
        Environment.GetEnvironmentVariable("CI"), Environment.GetEnvironmentVariable("ENGINE_TESTS_REQUIRE_ALL"));

    internal static bool IsRequireAll(string? ci, string? requireAll) =>
        string.Equals(ci, "true", StringComparison.OrdinalIgnoreCase) || ci == "1" || requireAll == "1";

    /// <summary>The exception to throw for an unavailable tool: a skip, or under CI a failure naming the reason.</summary>
    public static Exception Unavailable(string? reason) =>
        RequireAll ? new ToolUnavailableException(reason ?? "a required tool is unavailable") : new SkipException(reason);

    /// <summary>Throws <see cref="Unavailable"/> when <paramref name="unavailableReason"/> is not null.</summary>
    public static void Require(string? unavailableReason)
    {
        if (unavailableReason is not null)
        {
            throw Unavailable(unavailableReason);
        }
    }

    /// <summary>Throws <see cref="Unavailable"/> with <paramref name="reason"/> when <paramref name="condition"/> holds.</summary>
    public static void RequireNot([System.Diagnostics.CodeAnalysis.DoesNotReturnIf(true)] bool condition, string? reason)
    {
        if (condition)
        {
            throw Unavailable(reason);
        }
    }

    /// <summary>True for the exceptions <see cref="Unavailable"/> makes (fixtures keep these for their tests, nothing else).</summary>
    public static bool IsUnavailable(Exception e) => e is SkipException or ToolUnavailableException;
}

/// <summary>A tool a test needs is missing or did not start, and <see cref="Tools.RequireAll"/> is on: the test fails.</summary>
internal sealed class ToolUnavailableException(string reason)
    : Exception($"{reason} (CI=true or ENGINE_TESTS_REQUIRE_ALL=1: a missing tool fails the test instead of skipping it)");
