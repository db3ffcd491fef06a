using Engine.Diagnostics;

namespace Engine.Hosting;

/// <summary><c>Engine.AccessLog</c>: where request lines go and how many of them.</summary>
internal sealed class AccessLogOptions
{
    /// <summary>Size of one log file before it rotates: 100 MiB, logrotate's usual <c>maxsize</c> in distribution configs.</summary>
    public const long DefaultMaxBytes = 100L * 1024 * 1024;

    /// <summary>Files kept in all (the live one and .1…): 10 × 100 MiB bounds the log at 1 GiB of disk.</summary>
    public const int DefaultMaxFiles = 10;

    /// <summary>Lines are written at all (false: no access log; metrics still count every request).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>all</c> (default) or <c>errors</c>: only 4xx/5xx and failed tunnels, as a success rate of 0.</summary>
    public bool ErrorsOnly { get; init; }

    /// <summary>JSON lines (default, what journald and log shippers parse) or logfmt.</summary>
    public AccessLogFormat Format { get; init; } = AccessLogFormat.Json;

    /// <summary>A file to write instead of stdout (stdout is the journal under systemd); rotated by size.</summary>
    public string? Path { get; init; }

    public long MaxBytes { get; init; } = DefaultMaxBytes;

    public int MaxFiles { get; init; } = DefaultMaxFiles;

    /// <summary>
    /// Share of success lines kept, 0..1 (default 1: all). Errors are always kept. At 50 000 req/s a
    /// JSON line of ~300 bytes is 15 MB/s; 0.01 keeps 500 lines/s of successes.
    /// </summary>
    public double SuccessSampleRate { get; init; } = 1.0;
}
