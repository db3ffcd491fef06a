using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace Engine.Hosting;

/// <summary>
/// Typed reads from <see cref="IConfiguration"/> that never throw: a value of the wrong type, out of
/// range or under an unknown key becomes a <see cref="ConfigProblem"/> with its JSON path, and the
/// default stands in so reading can go on and report every other problem too. (ConfigurationBinder
/// throws on the first bad value and ignores unknown keys, which hides typos.)
/// </summary>
internal sealed class ConfigSectionReader
{
    private readonly List<ConfigProblem> _problems;

    public ConfigSectionReader(List<ConfigProblem> problems) => _problems = problems;

    /// <summary><c>Engine:Packages:0:Key</c> → <c>Engine.Packages[0].Key</c>.</summary>
    public static string JsonPath(string configPath)
    {
        var sb = new StringBuilder(configPath.Length + 8);
        foreach (string segment in configPath.Split(ConfigurationPath.KeyDelimiter))
        {
            if (segment.Length > 0 && segment.All(char.IsAsciiDigit))
            {
                sb.Append('[').Append(segment).Append(']');
            }
            else
            {
                if (sb.Length > 0)
                {
                    sb.Append('.');
                }

                sb.Append(segment);
            }
        }

        return sb.ToString();
    }

    public static string JsonPath(IConfigurationSection section) => JsonPath(section.Path);

    public void Report(IConfigurationSection section, string message) => _problems.Add(new ConfigProblem(JsonPath(section), message));

    public void Report(string path, string message) => _problems.Add(new ConfigProblem(path, message));

    /// <summary>Reports every child of <paramref name="obj"/> whose key is not one of <paramref name="known"/> (keys are case-insensitive, as in .NET configuration).</summary>
    public void CheckKeys(IConfigurationSection obj, params string[] known)
    {
        if (obj.Value is { Length: > 0 })
        {
            Report(obj, "expected an object, found a value");
            return;
        }

        foreach (IConfigurationSection child in obj.GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                string? near = known.FirstOrDefault(k => Distance(k.ToUpperInvariant(), child.Key.ToUpperInvariant()) <= 2);
                Report(child, near is null
                    ? $"unknown key (expected one of {string.Join(", ", known)})"
                    : $"unknown key (did you mean '{near}'?)");
            }
        }
    }

    /// <summary>The scalar under <paramref name="key"/>, or null when absent, JSON null or empty.</summary>
    public string? Scalar(IConfigurationSection parent, string key)
    {
        IConfigurationSection section = parent.GetSection(key);
        if (section.Value is { Length: > 0 } value)
        {
            return value;
        }

        if (section.GetChildren().Any())
        {
            Report(section, "expected a value, found an object or array");
        }

        return null;
    }

    public string? String(IConfigurationSection parent, string key) => Scalar(parent, key);

    public string RequiredString(IConfigurationSection parent, string key)
    {
        string? value = Scalar(parent, key);
        if (value is null || string.IsNullOrWhiteSpace(value))
        {
            Report(parent.GetSection(key), "must not be empty");
            return "";
        }

        return value;
    }

    public bool Bool(IConfigurationSection parent, string key, bool fallback)
    {
        string? text = Scalar(parent, key);
        if (text is null)
        {
            return fallback;
        }

        if (bool.TryParse(text, out bool value))
        {
            return value;
        }

        Report(parent.GetSection(key), $"'{text}' is not true or false");
        return fallback;
    }

    public int Int(IConfigurationSection parent, string key, int fallback, int min, int max) =>
        NullableInt(parent, key, min, max) ?? fallback;

    public int? NullableInt(IConfigurationSection parent, string key, int min, int max)
    {
        long? value = NullableLong(parent, key, min, max);
        return value is null ? null : (int)value.Value;
    }

    public long? NullableLong(IConfigurationSection parent, string key, long min, long max)
    {
        string? text = Scalar(parent, key);
        return text is null ? null : ParseLong(parent.GetSection(key), text, min, max);
    }

    public long? ParseLong(IConfigurationSection section, string text, long min, long max)
    {
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            Report(section, $"'{text}' is not a whole number");
            return null;
        }

        if (value < min || value > max)
        {
            Report(section, $"{value} is out of range {min}..{max}");
            return null;
        }

        return value;
    }

    public double Double(IConfigurationSection parent, string key, double fallback, double min, double max)
    {
        string? text = Scalar(parent, key);
        if (text is null)
        {
            return fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            Report(parent.GetSection(key), $"'{text}' is not a number");
            return fallback;
        }

        if (value < min || value > max)
        {
            Report(parent.GetSection(key), $"{value.ToString(CultureInfo.InvariantCulture)} is out of range {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
            return fallback;
        }

        return value;
    }

    /// <summary>A TimeSpan string (<c>hh:mm:ss</c>, <c>d.hh:mm:ss</c>) within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public TimeSpan Duration(IConfigurationSection parent, string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        string? text = Scalar(parent, key);
        if (text is null)
        {
            return fallback;
        }

        // "c" is the invariant round-trip form; a bare number would parse as days, so require a colon.
        if (!text.Contains(':', StringComparison.Ordinal) || !TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out TimeSpan value))
        {
            Report(parent.GetSection(key), $"'{text}' is not a duration (hh:mm:ss)");
            return fallback;
        }

        if (value < min || value > max)
        {
            Report(parent.GetSection(key), $"{value:c} is out of range {min:c}..{max:c}");
            return fallback;
        }

        return value;
    }

    /// <summary>One of <paramref name="names"/> (exact, lowercase, as in the spec).</summary>
    public T Enum<T>(IConfigurationSection parent, string key, T fallback, IReadOnlyDictionary<string, T> names)
    {
        string? text = Scalar(parent, key);
        if (text is null)
        {
            return fallback;
        }

        if (names.TryGetValue(text, out T? value))
        {
            return value;
        }

        Report(parent.GetSection(key), $"'{text}' is not one of {string.Join(", ", names.Keys)}");
        return fallback;
    }

    /// <summary>The elements of an array (sections <c>0</c>, <c>1</c>, … in index order); empty when absent.</summary>
    public IReadOnlyList<IConfigurationSection> Array(IConfigurationSection parent, string key) => Array(parent, key, out _);

    public IReadOnlyList<IConfigurationSection> Array(IConfigurationSection parent, string key, out bool present)
    {
        IConfigurationSection section = parent.GetSection(key);
        present = section.Exists() || section.Value is not null;
        if (section.Value is { Length: > 0 })
        {
            Report(section, "expected an array, found a value");
            return [];
        }

        var items = new List<(int Index, IConfigurationSection Section)>();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                items.Add((index, child));
            }
            else
            {
                Report(child, "expected an array element, found a named key");
            }
        }

        return items.OrderBy(i => i.Index).Select(i => i.Section).ToArray();
    }

    /// <summary>An array of strings, or null when the key is absent or JSON null.</summary>
    public IReadOnlyList<string>? StringList(IConfigurationSection parent, string key)
    {
        IReadOnlyList<IConfigurationSection> items = Array(parent, key, out bool present);
        if (!present)
        {
            return null;
        }

        var values = new List<string>(items.Count);
        foreach (IConfigurationSection item in items)
        {
            if (item.Value is { Length: > 0 } value)
            {
                values.Add(value);
            }
            else
            {
                Report(item, "must be a non-empty string");
            }
        }

        return values;
    }

    public IReadOnlyList<IPNetwork> Networks(IConfigurationSection parent, string key)
    {
        IReadOnlyList<IConfigurationSection> items = Array(parent, key);
        var networks = new List<IPNetwork>(items.Count);
        foreach (IConfigurationSection item in items)
        {
            string text = item.Value ?? "";
            if (TryParseNetwork(text, out IPNetwork network))
            {
                networks.Add(network);
            }
            else
            {
                Report(item, $"'{text}' is not a valid CIDR (like 203.0.113.0/24 or 2001:db8::/32) or IP address");
            }
        }

        return networks;
    }

    /// <summary>An IP with an explicit port: <c>127.0.0.1:8080</c>, <c>[::1]:8080</c>. Port 0 only when <paramref name="allowPortZero"/>.</summary>
    public IPEndPoint? EndPoint(IConfigurationSection parent, string key, bool required, bool allowPortZero)
    {
        string? text = Scalar(parent, key);
        if (text is null)
        {
            if (required)
            {
                Report(parent.GetSection(key), "must not be empty");
            }

            return null;
        }

        if (!Http.HostPort.TryParse(text, out string host, out int port)
            || !IPAddress.TryParse(host, out IPAddress? address)
            || (port == 0 && !allowPortZero))
        {
            Report(parent.GetSection(key), $"'{text}' is not a valid IP:port");
            return null;
        }

        return new IPEndPoint(address, port);
    }

    public static bool TryParseNetwork(string text, out IPNetwork network)
    {
        if (IPNetwork.TryParse(text, out network))
        {
            return true;
        }

        if (IPAddress.TryParse(text, out IPAddress? single) && !text.Contains('/', StringComparison.Ordinal))
        {
            network = new IPNetwork(single, single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return false;
    }

    private static int Distance(string a, string b)
    {
        // Levenshtein over short key names, two rows.
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
