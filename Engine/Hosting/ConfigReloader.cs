using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting;

/// <summary>
/// Re-reads the configuration file when it changes and on SIGHUP (systemd's ExecReload). A change
/// is applied after a short quiet period, since editors and deploy tools write a file in several
/// steps; an invalid file is refused with the same messages as --check-config and the running
/// configuration stays.
/// </summary>
internal sealed class ConfigReloader : IDisposable
{
    // Editors save in bursts (truncate, write, rename); 300 ms of quiet catches the last write.
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(300);

    private readonly ConfigSource _source;
    private readonly Func<EngineOptions, bool> _apply;
    private readonly ILogger _logger;
    private readonly FileSystemWatcher? _watcher;
    private readonly PosixSignalRegistration? _sighup;
    private readonly ITimer _debounce;
    private readonly Lock _lock = new();
    private readonly Action<bool>? _outcome;
    private int _applied;
    private int _refused;

    /// <param name="apply">Installs a valid configuration; false when it could not be applied.</param>
    /// <param name="outcome">Told every reload's result (true applied, false refused): the reload metric.</param>
    public ConfigReloader(ConfigSource source, Func<EngineOptions, bool> apply, ILogger logger, TimeProvider? time = null, Action<bool>? outcome = null)
    {
        _outcome = outcome;
        _source = source;
        _apply = apply;
        _logger = logger;
        _debounce = (time ?? TimeProvider.System).CreateTimer(static s => ((ConfigReloader)s!).ReloadNow("file changed"), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        string path = Path.GetFullPath(source.File);
        string? directory = Path.GetDirectoryName(path);
        if (directory is not null && Directory.Exists(directory))
        {
            _watcher = new FileSystemWatcher(directory, Path.GetFileName(path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, _) => Schedule();
            _watcher.Created += (_, _) => Schedule();
            _watcher.Renamed += (_, _) => Schedule();
            _watcher.EnableRaisingEvents = true;
        }

        if (!OperatingSystem.IsWindows())
        {
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;   // SIGHUP means reload here, not terminate
                ReloadNow("SIGHUP");
            });
        }
    }

    /// <summary>Reloads that were applied.</summary>
    public int Applied => Volatile.Read(ref _applied);

    /// <summary>Reloads refused because the file was invalid (the old configuration stayed).</summary>
    public int Refused => Volatile.Read(ref _refused);

    private void Schedule() => _debounce.Change(QuietPeriod, Timeout.InfiniteTimeSpan);

    /// <summary>Reads, validates and applies the file now; true when applied.</summary>
    public bool ReloadNow(string reason)
    {
        lock (_lock)
        {
            EngineConfigResult result = _source.Load();
            if (!result.IsValid)
            {
                Interlocked.Increment(ref _refused);
                _outcome?.Invoke(false);
                EngineLog.ReloadRefused(_logger, _source.File, result.Problems.Count);
                foreach (ConfigProblem problem in result.Problems)
                {
                    EngineLog.ReloadProblem(_logger, problem.ToString());
                }

                return false;
            }

            if (!_apply(result.Options))
            {
                Interlocked.Increment(ref _refused);
                _outcome?.Invoke(false);
                return false;
            }

            Interlocked.Increment(ref _applied);
            _outcome?.Invoke(true);
            EngineLog.Reloaded(_logger, _source.File, reason);
            return true;
        }
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _sighup?.Dispose();
        _debounce.Dispose();
    }
}
