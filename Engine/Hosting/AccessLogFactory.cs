using Engine.Diagnostics;

namespace Engine.Hosting;

/// <summary>Builds the daemon's access log from <c>Engine.AccessLog</c>: stdout (the journal under systemd) or a rotated file.</summary>
internal static class AccessLogFactory
{
    /// <summary>The configured log, or null when <c>Enabled</c> is false; <paramref name="stdout"/> is opened only when used.</summary>
    public static AccessLog? Create(AccessLogOptions options, Func<Stream> stdout)
    {
        if (!options.Enabled)
        {
            return null;
        }

        double rate = options.ErrorsOnly ? 0 : options.SuccessSampleRate;
        return options.Path is null
            ? new AccessLog(stdout(), options.Format, rate)
            : new AccessLog(new RotatingFileStream(options.Path, options.MaxBytes, options.MaxFiles), options.Format, rate, ownsSink: true);
    }
}
