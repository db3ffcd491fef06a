using Engine.Tests.Fixtures;
using System.Diagnostics;
using Engine.Tests.Fixtures.Upstreams;

namespace Engine.Tests.Hosting;

/// <summary>deploy/engine.service and engine.socket: the directives docs/deploy.md promises, and <c>systemd-analyze verify</c> where it exists.</summary>
public class DeployUnitTests
{
    private static string Unit(string name) => File.ReadAllText(Path.Combine(BuildScriptTests.RepoRoot(), "deploy", name));

    private static string[] Directives(string unit) =>
        [.. unit.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] is not '#' and not '[')];

    [Theory]
    [InlineData("Type=notify")]
    [InlineData("ExecReload=/bin/kill -HUP $MAINPID")]
    [InlineData("WatchdogSec=30")]
    [InlineData("NoNewPrivileges=yes")]
    [InlineData("ProtectSystem=strict")]
    [InlineData("ProtectHome=yes")]
    [InlineData("PrivateTmp=yes")]
    [InlineData("PrivateDevices=yes")]
    [InlineData("RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX")]
    [InlineData("LimitNOFILE=262144")]
    [InlineData("User=engine")]
    public void EngineService_HasDirective(string directive) =>
        Assert.Contains(directive, Directives(Unit("engine.service")));

    [Fact]
    public void EngineService_NoAmbientCapabilitiesByDefault() =>
        Assert.DoesNotContain(Directives(Unit("engine.service")), d => d.StartsWith("AmbientCapabilities=", StringComparison.Ordinal));

    [Fact]
    public void EngineSocket_ListensOnTheEmbeddedDefaultEndpoint() =>
        Assert.Contains("ListenStream=127.0.0.1:8080", Directives(Unit("engine.socket")));

    [SkippableFact]
    public async Task SystemdAnalyzeVerify_Units_Pass()
    {
        string? analyze = UpstreamProcess.FindOnPath("systemd-analyze");
        Tools.RequireNot(analyze is null || OperatingSystem.IsWindows(), "systemd-analyze is not installed");
        // verify checks that ExecStart= exists: point it at a stub instead of /opt/engine/Engine.
        DirectoryInfo directory = Directory.CreateTempSubdirectory("engine-units-");
        try
        {
            string stub = Path.Combine(directory.FullName, "Engine");
            await File.WriteAllTextAsync(stub, "#!/bin/sh\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            string service = Path.Combine(directory.FullName, "engine.service");
            string socket = Path.Combine(directory.FullName, "engine.socket");
            await File.WriteAllTextAsync(service, Unit("engine.service").Replace("/opt/engine/Engine", stub, StringComparison.Ordinal));
            await File.WriteAllTextAsync(socket, Unit("engine.socket"));

            var info = new ProcessStartInfo(analyze!) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string argument in (string[])["verify", service, socket])
            {
                info.ArgumentList.Add(argument);
            }

            using Process process = Process.Start(info)!;
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            string output = await stdout + await stderr;
            Assert.True(process.ExitCode == 0, output);
            Assert.DoesNotContain("engine.service:", output, StringComparison.Ordinal);
            Assert.DoesNotContain("engine.socket:", output, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
