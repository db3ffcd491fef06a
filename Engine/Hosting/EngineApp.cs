using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Engine.Hosting;

/// <summary>
/// The command line: run on the embedded default or <c>--config FILE</c>, or <c>--check-config FILE</c>.
/// Configuration layers, lowest first: the file (or the embedded default), <c>ENGINE__…</c>
/// environment variables, then <c>--Engine:…=value</c> arguments. An invalid configuration is
/// reported problem by problem with its JSON path and the process exits 2, never with a trace.
/// </summary>
internal static class EngineApp
{
    public const int ExitOk = 0;
    public const int ExitInvalidConfig = 2;
    public const int ExitStartFailed = 3;

    private const string Usage = """
        usage: Engine [--config FILE] [--Engine:Key=value ...]
               Engine --check-config FILE
        Without --config the embedded default runs: 127.0.0.1:8080, direct egress, package demo/demo-key.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken stop = default)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            await stdout.WriteLineAsync(Usage).ConfigureAwait(false);
            return ExitOk;
        }

        string? checkFile = ValueOf(args, "--check-config");
        string? configFile = checkFile ?? ValueOf(args, "--config");
        if ((args.Contains("--check-config") && checkFile is null) || (args.Contains("--config") && configFile is null))
        {
            await stderr.WriteLineAsync(Usage).ConfigureAwait(false);
            return ExitInvalidConfig;
        }

        IConfigurationRoot configuration;
        List<KeyValuePair<string, string?>> overrides = Overrides(args, checkFile is not null);
        try
        {
            configuration = BuildConfiguration(configFile, overrides);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or FormatException or IOException)
        {
            await stderr.WriteLineAsync($"{configFile}: {FirstLine(e)}").ConfigureAwait(false);
            return ExitInvalidConfig;
        }

        EngineConfigResult result = EngineConfigReader.Read(configuration);
        if (!result.IsValid)
        {
            foreach (ConfigProblem problem in result.Problems)
            {
                await stderr.WriteLineAsync(problem.ToString()).ConfigureAwait(false);
            }

            await stderr.WriteLineAsync($"{configFile ?? "configuration"}: {result.Problems.Count} problem(s); not started.").ConfigureAwait(false);
            return ExitInvalidConfig;
        }

        if (checkFile is not null)
        {
            await stdout.WriteLineAsync($"{checkFile}: OK").ConfigureAwait(false);
            return ExitOk;
        }

        ChooseSocketMode();
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            Configuration = new ConfigurationManager(),
            DisableDefaults = false,
        });
        builder.Configuration.AddConfiguration(configuration);
        builder.Services.AddSystemd();
        builder.Services.AddSingleton(new EngineConsole(stdout));
        builder.Services.AddProxyEngine(result.Options);
        if (configFile is not null)
        {
            // The file is watched (and SIGHUP re-reads it): spec/config.md "the file is watched".
            builder.Services.AddSingleton(new ConfigSource(configFile, overrides));
        }
        using IHost host = builder.Build();
        try
        {
            await host.RunAsync(stop).ConfigureAwait(false);
            return ExitOk;
        }
        catch (System.Net.Sockets.SocketException e)
        {
            await stderr.WriteLineAsync($"cannot start: {e.Message} (is another process using the port?)").ConfigureAwait(false);
            return ExitStartFailed;
        }
    }

    internal static IConfigurationRoot BuildConfiguration(string? file, IEnumerable<KeyValuePair<string, string?>> overrides)
    {
        var builder = new ConfigurationBuilder();
        if (file is null)
        {
            builder.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(EmbeddedDefault.Json)));
        }
        else
        {
            builder.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        }

        // ENGINE__LIMITS__MAXCONNECTIONS=5000 → Engine:Limits:MaxConnections (keys are case-insensitive).
        var environment = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && name.StartsWith("ENGINE__", StringComparison.OrdinalIgnoreCase))
            {
                environment[name.Replace("__", ":", StringComparison.Ordinal)] = entry.Value as string;
            }
        }

        builder.AddInMemoryCollection(environment);
        builder.AddInMemoryCollection(overrides);
        return builder.Build();
    }

    // --Engine:Limits:MaxConnections=5000 (or "--Engine:X value").
    private static List<KeyValuePair<string, string?>> Overrides(string[] args, bool checking)
    {
        var overrides = new List<KeyValuePair<string, string?>>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--Engine:", StringComparison.OrdinalIgnoreCase) || checking)
            {
                continue;
            }

            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                overrides.Add(new(arg[2..equals], arg[(equals + 1)..]));
            }
            else if (i + 1 < args.Length)
            {
                overrides.Add(new(arg[2..], args[++i]));
            }
        }

        return overrides;
    }

    private static string? ValueOf(string[] args, string name)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length && !args[index + 1].StartsWith("--", StringComparison.Ordinal) ? args[index + 1] : null;
    }

    private static string FirstLine(Exception e) => (e.InnerException?.Message ?? e.Message).Split('\n')[0].Trim();

    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// The runtime reads this once, when the first socket operation starts its epoll thread, so it is
    /// set here, after the configuration is read and before anything touches a socket. With it,
    /// socket completions run on the epoll thread instead of being queued to the thread pool;
    /// together with the pipes' inline schedulers a request goes from the client's bytes to the
    /// upstream's send without a thread hop (15.8k → 42k req/s on one pinned core,
    /// docs/performance.md). With every store: nothing may block an epoll thread, Redis included
    /// (RedisLink.ConnectAsync says what once did). An operator's own setting in the unit's
    /// environment always wins.
    /// </summary>
    private static void ChooseSocketMode()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        }
    }
}
