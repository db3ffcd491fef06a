using System.Globalization;
using Engine.Tests.Fixtures.Upstreams;

namespace Engine.Tests.Fixtures;

/// <summary>
/// A real engine process (<c>dotnet Engine.dll --config FILE</c>, the Engine build copied beside
/// the tests) on a free loopback port, killed by PID on dispose.
/// </summary>
internal sealed class EngineProcess : IAsyncDisposable
{
    private readonly UpstreamProcess _process;

    private EngineProcess(UpstreamProcess process, string configPath)
    {
        _process = process;
        ConfigPath = configPath;
    }

    /// <summary>The config file the process runs on (rewrite it to test reloads).</summary>
    public string ConfigPath { get; }

    public System.Net.IPEndPoint EndPoint => _process.EndPoint;

    public int Pid => _process.Pid;

    public string Output => _process.OutputTail();

    /// <summary>
    /// Writes <paramref name="engineJson"/> (the <c>Engine</c> object, <c>{PORT}</c> replaced by the
    /// listener's port) and starts the engine on it. An engine that does not start (crash, refused
    /// config, no bind within the deadline) fails the test with its output, CI or not: that is a broken
    /// binary, not a missing tool. Only a missing <c>prlimit</c> is a tool (<see cref="Tools"/>).
    /// </summary>
    /// <param name="fileLimit">Run it under <c>prlimit --nofile=N</c> (descriptor exhaustion tests).</param>
    /// <param name="environment">Variables set for the engine process (on top of the test host's).</param>
    /// <param name="hermeticDns">Resolve through <see cref="LoopbackDns"/> (every name NXDOMAIN, nothing leaves loopback), in a private mount namespace.</param>
    public static async Task<EngineProcess> StartAsync(string engineJson, int? fileLimit = null, IReadOnlyDictionary<string, string>? environment = null,
        bool hermeticDns = false)
    {
        (string dotnet, string engine) = Command();

        int port = UpstreamProcess.FreePort();
        string directory = UpstreamProcess.CreateDirectory("engine-").FullName;
        string config = Path.Combine(directory, "engine.json");
        await File.WriteAllTextAsync(config, engineJson.Replace("{PORT}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        string executable = dotnet;
        List<string> arguments = engine.Length > 0 ? [engine, "--config", config] : ["--config", config];
        if (fileLimit is int limit)
        {
            // prlimit sets the limit and execs the command: the PID stays the engine's.
            executable = UpstreamProcess.FindOnPath("prlimit") ?? throw Tools.Unavailable("prlimit (util-linux) is not on PATH");
            arguments.InsertRange(0, [$"--nofile={limit}:{limit}", dotnet]);
        }

        (UpstreamProcess? process, string? failure) = await UpstreamProcess.StartAsync(
            executable, arguments, directory, port, logFile: null, hermeticDns, environment);
        return process is null
            ? throw new InvalidOperationException($"the engine child process did not start: {failure}")
            : new EngineProcess(process, config);
    }

    /// <summary>
    /// The host and the Engine build copied beside the tests; a missing one fails the test (the build
    /// is broken). ENGINE_TESTS_PUBLISHED=PATH runs a published engine executable instead (the Native
    /// AOT build of <c>dotnet publish Engine</c>), so these process-level tests can check what ships.
    /// </summary>
    internal static (string Dotnet, string Engine) Command()
    {
        if (Environment.GetEnvironmentVariable("ENGINE_TESTS_PUBLISHED") is { Length: > 0 } published)
        {
            return File.Exists(published)
                ? (published, string.Empty)
                : throw new InvalidOperationException($"ENGINE_TESTS_PUBLISHED={published}: no such file");
        }

        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : UpstreamProcess.FindOnPath("dotnet") ?? throw new InvalidOperationException("dotnet is not on PATH and DOTNET_HOST_PATH is not set");
        string engine = Path.Combine(AppContext.BaseDirectory, "Engine.dll");
        return File.Exists(engine) ? (dotnet, engine) : throw new InvalidOperationException($"{engine} is missing (build the Engine project)");
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
