using Engine.Upstream;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting;

/// <summary>
/// Watches the configured node sources and keeps each one's last good node list. A change is
/// read after a quiet period (sellers' tools and editors write in bursts), bad lines are logged as
/// <c>file:line</c> and skipped, a file that cannot be read as a whole or has vanished leaves its
/// last good nodes in force. <c>changed</c> is told when a source's nodes changed, so the host
/// can rebuild the pool without touching the rest of the configuration.
/// </summary>
internal sealed class NodeSourceWatcher : IDisposable
{
    // As ConfigReloader: editors and deploy tools save in bursts (truncate, write, rename).
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(300);

    // A file of 100,000 bad lines must not flood the log: the first ones say what is wrong.
    private const int MaxProblemsLogged = 20;

    private readonly ILogger _logger;
    private readonly Action<string> _changed;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private List<Source> _sources = [];

    public NodeSourceWatcher(IReadOnlyList<NodeSourceOptions> sources, ILogger logger, Action<string> changed, TimeProvider? time = null)
    {
        _logger = logger;
        _changed = changed;
        _time = time ?? TimeProvider.System;
        Update(sources);
    }

    /// <summary>Every source's last good nodes, in configuration order.</summary>
    public IReadOnlyList<NodeOptions> Nodes
    {
        get
        {
            lock (_lock)
            {
                return [.. _sources.SelectMany(s => s.Nodes)];
            }
        }
    }

    /// <summary>The problems of each source's last read (file:line), for tests and the admin page.</summary>
    public IReadOnlyList<NodeSourceProblem> Problems(string path)
    {
        lock (_lock)
        {
            return _sources.FirstOrDefault(s => s.Options.Path == path)?.Problems ?? [];
        }
    }

    /// <summary>
    /// A configuration reload: sources whose options did not change keep their nodes and watcher;
    /// new ones are read now; removed ones stop (their nodes leave the pool).
    /// </summary>
    public void Update(IReadOnlyList<NodeSourceOptions> sources)
    {
        lock (_lock)
        {
            var next = new List<Source>(sources.Count);
            foreach (NodeSourceOptions options in sources)
            {
                Source? kept = _sources.FirstOrDefault(s => s.Options == options);
                if (kept is not null)
                {
                    _sources.Remove(kept);
                    next.Add(kept);
                    continue;
                }

                var source = new Source(options);
                Load(source);
                Watch(source);
                next.Add(source);
            }

            foreach (Source removed in _sources)
            {
                removed.Dispose();
            }

            _sources = next;
        }
    }

    /// <summary>Reads one source now; true when its nodes changed (and <c>changed</c> was told).</summary>
    public bool ReloadNow(string path)
    {
        bool changed;
        lock (_lock)
        {
            Source? source = _sources.FirstOrDefault(s => s.Options.Path == path);
            changed = source is not null && Load(source);
        }

        if (changed)
        {
            _changed("node source " + path);
        }

        return changed;
    }

    private bool Load(Source source)
    {
        string path = source.Options.Path;
        string text;
        try
        {
            if (!File.Exists(path))
            {
                if (!source.Vanished)
                {
                    source.Vanished = true;
                    EngineLog.NodeSourceVanished(_logger, path, source.Nodes.Count);
                }

                return false;
            }

            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            EngineLog.NodeSourceRefused(_logger, path, 0, e.Message, source.Nodes.Count);
            return false;
        }

        source.Vanished = false;
        NodeSourceResult result = NodeSourceParser.Parse(text, source.Options);
        source.Problems = result.Problems;
        if (result.IsFatal)
        {
            NodeSourceProblem fatal = result.Problems[^1];
            EngineLog.NodeSourceRefused(_logger, path, fatal.Line, fatal.Message, source.Nodes.Count);
            return false;
        }

        foreach (NodeSourceProblem problem in result.Problems.Take(MaxProblemsLogged))
        {
            EngineLog.NodeSourceProblem(_logger, path, problem.Line, problem.Message);
        }

        EngineLog.NodeSourceLoaded(_logger, path, result.Nodes.Count, result.Problems.Count);
        bool changed = !SameNodes(source.Nodes, result.Nodes);
        source.Nodes = result.Nodes;
        return changed;
    }

    private void Watch(Source source)
    {
        string? directory = Path.GetDirectoryName(source.Options.Path);
        source.Debounce = _time.CreateTimer(_ => ReloadNow(source.Options.Path), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (directory is null || !Directory.Exists(directory))
        {
            return;
        }

        // The directory, not the file: a rename over the file (the safe way to replace it) and a
        // file that is deleted and written again are both seen.
        source.Watcher = new FileSystemWatcher(directory, Path.GetFileName(source.Options.Path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        ITimer debounce = source.Debounce;
        FileSystemEventHandler schedule = (_, _) => debounce.Change(QuietPeriod, Timeout.InfiniteTimeSpan);
        source.Watcher.Changed += schedule;
        source.Watcher.Created += schedule;
        source.Watcher.Deleted += schedule;
        source.Watcher.Renamed += (_, _) => debounce.Change(QuietPeriod, Timeout.InfiniteTimeSpan);
        source.Watcher.EnableRaisingEvents = true;
    }

    private static bool SameNodes(List<NodeOptions> a, List<NodeOptions> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            NodeOptions x = a[i];
            NodeOptions y = b[i];
            if (x.Id != y.Id || x.Type != y.Type || x.Address != y.Address || x.Username != y.Username || x.Password != y.Password
                || x.Country != y.Country || x.Region != y.Region || x.City != y.City || x.Isp != y.Isp || x.Asn != y.Asn || x.Network != y.Network || x.Weight != y.Weight)
            {
                return false;
            }
        }

        return true;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (Source source in _sources)
            {
                source.Dispose();
            }

            _sources = [];
        }
    }

    private sealed class Source(NodeSourceOptions options) : IDisposable
    {
        public NodeSourceOptions Options { get; } = options;

        public List<NodeOptions> Nodes { get; set; } = [];

        public List<NodeSourceProblem> Problems { get; set; } = [];

        public bool Vanished { get; set; }

        public FileSystemWatcher? Watcher { get; set; }

        public ITimer? Debounce { get; set; }

        public void Dispose()
        {
            Watcher?.Dispose();
            Debounce?.Dispose();
        }
    }
}
