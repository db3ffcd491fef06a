using System.Diagnostics;
using System.Text.RegularExpressions;
using Engine.Hosting;
using Engine.Tests.Hosting;

namespace Engine.Tests.LoadTestsRunner;

/// <summary>
/// The measuring scripts docs/performance.md names (LoadTests/scripts): they are bash and are not
/// run by the suite (each takes minutes of pinned load), so the suite checks what can break
/// silently: that bash parses each one, that the entry points are executable, that the engine
/// accepts their config, and that every script the docs name exists.
/// </summary>
public partial class BenchScriptsTests
{
    private static string ScriptsDir => Path.Combine(BuildScriptTests.RepoRoot(), "LoadTests", "scripts");

    public static TheoryData<string> Scripts()
    {
        var data = new TheoryData<string>();
        foreach (string path in Directory.GetFiles(ScriptsDir, "*.sh").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(path));
        }

        return data;
    }

    public static TheoryData<string> PythonScripts() => new(Directory.GetFiles(ScriptsDir, "*.py").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(PythonScripts))]
    public async Task PythonScript_Compiles_AndIsExecutable(string name)
    {
        string path = Path.Combine(ScriptsDir, name);
        using var python = Process.Start(new ProcessStartInfo("python3", ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", path]) { RedirectStandardError = true })!;
        string errors = await python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync();
        Assert.True(python.ExitCode == 0, $"python3 cannot parse {name}: {errors}");
        if (!OperatingSystem.IsWindows())
        {
            Assert.True((File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0, $"{name} is not executable");
        }
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public async Task Script_ParsesWithBash(string name)
    {
        using var bash = Process.Start(new ProcessStartInfo("bash", ["-n", Path.Combine(ScriptsDir, name)]) { RedirectStandardError = true })!;
        string errors = await bash.StandardError.ReadToEndAsync();
        await bash.WaitForExitAsync();
        Assert.True(bash.ExitCode == 0, $"bash -n {name}: {errors}");
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void EntryPoints_AreExecutable_TheSourcedFileIsNot(string name)
    {
        UnixFileMode mode = File.GetUnixFileMode(Path.Combine(ScriptsDir, name));
        bool executable = (mode & UnixFileMode.UserExecute) != 0;
        Assert.Equal(name != "common.sh", executable);
    }

    [Fact]
    public void BenchConfig_IsValid_AndMatchesWhatTheScriptsAssume()
    {
        string file = Path.Combine(ScriptsDir, "bench.json");
        EngineConfigResult result = EngineConfigReader.Read(EngineApp.BuildConfiguration(file, []));

        Assert.Empty(result.Problems);
        Assert.Equal(19000, result.Options.Listeners[0].Endpoint.Port);   // common.sh's ENGINE_PORT
        Assert.False(result.Options.AccessLog.Enabled);                  // the peers log nothing
    }

    [Fact]
    public void EveryScriptTheDocsName_Exists()
    {
        string doc = File.ReadAllText(Path.Combine(BuildScriptTests.RepoRoot(), "docs", "performance.md"));
        string[] named = ScriptReference().Matches(doc).Select(m => m.Groups[1].Value).Distinct().ToArray();

        Assert.NotEmpty(named);
        Assert.All(named, n => Assert.True(File.Exists(Path.Combine(ScriptsDir, n)), $"docs/performance.md names LoadTests/scripts/{n}, which does not exist"));
    }

    [GeneratedRegex(@"LoadTests/scripts/([A-Za-z0-9_.-]+\.(?:sh|json|py))")]
    private static partial Regex ScriptReference();
}
