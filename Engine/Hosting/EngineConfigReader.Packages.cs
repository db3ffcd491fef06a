using Engine.Auth;
using Engine.Limits;
using Microsoft.Extensions.Configuration;

namespace Engine.Hosting;

internal static partial class EngineConfigReader
{
    private static readonly Dictionary<string, PackageStatus> PackageStatuses = new()
    {
        ["active"] = PackageStatus.Active,
        ["paused"] = PackageStatus.Paused,
        ["suspended"] = PackageStatus.Suspended,
    };

    private static readonly Dictionary<string, TrafficPeriod> TrafficPeriodNames = new()
    {
        ["none"] = TrafficPeriod.None,
        ["day"] = TrafficPeriod.Day,
        ["month"] = TrafficPeriod.Month,
    };

    private static readonly Dictionary<string, ProxyProtocols> PackageProtocols = new()
    {
        ["http"] = ProxyProtocols.Http,
        ["https"] = ProxyProtocols.Https,
        ["socks5"] = ProxyProtocols.Socks5,
    };

    /// <summary>Node networks (rules.md <c>network-X</c>, without <c>any</c>, which is a filter, not a network).</summary>
    internal static readonly string[] KnownNetworks = ["res", "mob", "dc"];

    /// <summary>Rule names from rules.md, as <c>AllowedRules</c> lists them.</summary>
    internal static readonly string[] KnownRules =
        ["country", "region", "city", "isp", "asn", "network", "session", "sessionid", "sessionlength", "idlettl", "bind", "rotate", "onerror", "prefer"];

    private static List<PackageOptions> ReadPackages(ConfigSectionReader reader, IConfigurationSection engine)
    {
        IReadOnlyList<IConfigurationSection> items = reader.Array(engine, "Packages");
        var packages = new List<PackageOptions>(items.Count);
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (IConfigurationSection item in items)
        {
            PackageOptions package = ReadPackage(reader, item);
            string path = ConfigSectionReader.JsonPath(item);
            if (package.Id.Length > 0 && !ids.TryAdd(package.Id, path))
            {
                reader.Report(item.GetSection("Id"), $"'{package.Id}' is already the Id of {ids[package.Id]}");
            }

            // The key identifies the package on its own (rules.md), so two packages cannot share one. Never echo it.
            if (package.Key.Length > 0 && !keys.TryAdd(package.Key, path))
            {
                reader.Report(item.GetSection("Key"), $"is the same as the Key of {keys[package.Key]}");
            }

            packages.Add(package);
        }

        return packages;
    }

    private static PackageOptions ReadPackage(ConfigSectionReader reader, IConfigurationSection item)
    {
        reader.CheckKeys(item, "Id", "Key", "Status", "AllowedProtocols", "AllowedNetworks", "AllowedRules", "RequestsPerSecond",
            "MaxConcurrent", "MaxSessions", "TrafficLimitBytes", "TrafficPeriod", "IpAllowlist", "IpAuth", "DefaultRules", "CircuitBreaker");

        string id = reader.RequiredString(item, "Id");
        if (id.Length > 0 && !id.All(IsTokenChar))
        {
            reader.Report(item.GetSection("Id"), $"'{id}' must be letters, digits and -._~ only (it appears in logs and metrics)");
        }

        string key = reader.RequiredString(item, "Key");
        if (key.Any(c => char.IsControl(c) || c == ' '))
        {
            reader.Report(item.GetSection("Key"), "must not contain spaces or control characters");
        }

        ProxyProtocols protocols = ProxyProtocols.All;
        if (reader.StringList(item, "AllowedProtocols") is { } protocolNames)
        {
            protocols = ProxyProtocols.None;
            for (int i = 0; i < protocolNames.Count; i++)
            {
                if (PackageProtocols.TryGetValue(protocolNames[i], out ProxyProtocols p))
                {
                    protocols |= p;
                }
                else
                {
                    reader.Report(item.GetSection("AllowedProtocols").GetSection(i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                        $"'{protocolNames[i]}' is not one of {string.Join(", ", PackageProtocols.Keys)}");
                }
            }
        }

        IReadOnlyList<string>? networks = reader.StringList(item, "AllowedNetworks");
        CheckMembers(reader, item.GetSection("AllowedNetworks"), networks, KnownNetworks);
        IReadOnlyList<string>? rules = reader.StringList(item, "AllowedRules");
        CheckMembers(reader, item.GetSection("AllowedRules"), rules, KnownRules);

        var ipAuth = reader.Networks(item, "IpAuth");
        string? defaultRules = reader.String(item, "DefaultRules");
        if (defaultRules is not null && DefaultRulesProblem(defaultRules, rules, networks) is { } problem)
        {
            reader.Report(item.GetSection("DefaultRules"), problem);
        }
        else if (defaultRules is null && ipAuth.Count > 0)
        {
            reader.Report(item.GetSection("DefaultRules"), "is required when IpAuth is set (requests without credentials carry no rules)");
        }

        return new PackageOptions
        {
            Id = id,
            Key = key,
            Status = reader.Enum(item, "Status", PackageStatus.Active, PackageStatuses),
            AllowedProtocols = protocols,
            AllowedNetworks = networks,
            AllowedRules = rules,
            RequestsPerSecond = reader.NullableInt(item, "RequestsPerSecond", 1, 10_000_000),
            MaxConcurrent = reader.NullableInt(item, "MaxConcurrent", 1, 10_000_000),
            MaxSessions = reader.Int(item, "MaxSessions", Sessions.MemorySessionStore.DefaultMaxSessions, 1, 100_000_000),
            TrafficLimitBytes = reader.NullableLong(item, "TrafficLimitBytes", 0, long.MaxValue),
            TrafficPeriod = reader.Enum(item, "TrafficPeriod", TrafficPeriod.None, TrafficPeriodNames),
            IpAllowlist = reader.Networks(item, "IpAllowlist"),
            IpAuth = ipAuth,
            DefaultRules = defaultRules,
            CircuitBreaker = item.GetSection("CircuitBreaker").Exists() ? ReadCircuitBreaker(reader, item.GetSection("CircuitBreaker")) : null,
        };
    }

    private static CircuitBreakerOptions ReadCircuitBreaker(ConfigSectionReader reader, IConfigurationSection section)
    {
        var defaults = new CircuitBreakerOptions();
        reader.CheckKeys(section, "FailureRatio", "Window", "MinRequests", "Cooldown");
        return new CircuitBreakerOptions
        {
            FailureRatio = reader.Double(section, "FailureRatio", defaults.FailureRatio, 0.01, 1.0),
            Window = reader.Duration(section, "Window", defaults.Window, TimeSpan.FromSeconds(1), OneDay),
            MinRequests = reader.Int(section, "MinRequests", defaults.MinRequests, 1, 1_000_000),
            Cooldown = reader.Duration(section, "Cooldown", defaults.Cooldown, TimeSpan.FromSeconds(1), OneDay),
        };
    }

    private static void CheckMembers(ConfigSectionReader reader, IConfigurationSection list, IReadOnlyList<string>? values, string[] known)
    {
        if (values is null)
        {
            return;
        }

        for (int i = 0; i < values.Count; i++)
        {
            if (!known.Contains(values[i], StringComparer.Ordinal))
            {
                reader.Report($"{ConfigSectionReader.JsonPath(list)}[{i}]", $"'{values[i]}' is not one of {string.Join(", ", known)}");
            }
        }
    }

    /// <summary>Shape only (rules.md): lowercase ASCII, digits and '_' in tokens joined by single '-'. The rule parser checks meaning.</summary>
    /// <summary>The rule parser's own verdict, so a default the data path would refuse never loads.</summary>
    private static string? DefaultRulesProblem(string defaultRules, IReadOnlyList<string>? allowedRules, IReadOnlyList<string>? allowedNetworks)
    {
        if (!IsRuleString(defaultRules))
        {
            return $"'{defaultRules}' is not a rule string (lowercase name-value pairs joined by '-', like country-any)";
        }

        Engine.Rules.RulePolicy policy;
        try
        {
            policy = Engine.Rules.RulePolicy.Create(allowedRules, allowedNetworks);
        }
        catch (ArgumentException)
        {
            return null;   // AllowedRules itself is reported above
        }

        byte[] bytes = System.Text.Encoding.ASCII.GetBytes(defaultRules);
        if (Engine.Rules.RuleParser.TryParse(bytes, policy, out _, out Engine.Rules.RuleError error))
        {
            return null;
        }

        Span<byte> detail = stackalloc byte[256];
        int length = error.FormatDetail(bytes, detail);
        return $"{Engine.Errors.ErrorCatalog.Get(error.Code).Name}: {System.Text.Encoding.ASCII.GetString(detail[..length])}";
    }

    private static bool IsRuleString(string rules) =>
        rules.Split('-').All(token => token.Length > 0 && token.All(IsRuleChar));

    internal static bool IsRuleChar(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_';
}
