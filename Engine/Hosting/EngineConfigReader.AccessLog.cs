using Engine.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace Engine.Hosting;

internal static partial class EngineConfigReader
{
    private static readonly Dictionary<string, AccessLogFormat> AccessLogFormats = new()
    {
        ["json"] = AccessLogFormat.Json,
        ["logfmt"] = AccessLogFormat.Logfmt,
    };

    private static readonly Dictionary<string, bool> AccessLogLevels = new()
    {
        ["all"] = false,
        ["errors"] = true,
    };

    private static AccessLogOptions ReadAccessLog(ConfigSectionReader reader, IConfigurationSection section)
    {
        var defaults = new AccessLogOptions();
        reader.CheckKeys(section, "Enabled", "Level", "Format", "Path", "MaxBytes", "MaxFiles", "SuccessSampleRate");
        string? path = reader.String(section, "Path");
        if (path is not null)
        {
            string full = Path.GetFullPath(path);
            if (Directory.Exists(full))
            {
                reader.Report(section.GetSection("Path"), $"'{path}' is a directory; name a file in it");
            }
            else if (!Directory.Exists(Path.GetDirectoryName(full)))
            {
                reader.Report(section.GetSection("Path"), $"the directory of '{path}' does not exist (under systemd: LogsDirectory=engine gives /var/log/engine)");
            }
        }
        else
        {
            foreach (string key in (string[])["MaxBytes", "MaxFiles"])
            {
                if (section.GetSection(key).Value is not null)
                {
                    reader.Report(section.GetSection(key), "only applies to a file (set Path); stdout is not rotated");
                }
            }
        }

        return new AccessLogOptions
        {
            Enabled = reader.Bool(section, "Enabled", defaults.Enabled),
            ErrorsOnly = reader.Enum(section, "Level", defaults.ErrorsOnly, AccessLogLevels),
            Format = reader.Enum(section, "Format", defaults.Format, AccessLogFormats),
            Path = path,
            // At least one whole line (AccessLogLineWriter.MaxLineBytes) per file.
            MaxBytes = reader.NullableLong(section, "MaxBytes", AccessLogLineWriter.MaxLineBytes, 1L << 40) ?? defaults.MaxBytes,
            MaxFiles = reader.Int(section, "MaxFiles", defaults.MaxFiles, 1, 1000),
            SuccessSampleRate = reader.Double(section, "SuccessSampleRate", defaults.SuccessSampleRate, 0, 1),
        };
    }
}
