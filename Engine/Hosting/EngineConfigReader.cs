using System.Net;
using Engine.Errors;
using Microsoft.Extensions.Configuration;
using Engine.State;

namespace Engine.Hosting;

/// <summary>
/// Reads and validates the <c>Engine</c> section in one pass, collecting every problem with its JSON
/// path instead of stopping at the first. The data path only ever sees a result with no problems.
/// </summary>
internal static partial class EngineConfigReader
{
    private static readonly Dictionary<string, ListenerProtocol> ListenerProtocols = new()
    {
        ["http"] = ListenerProtocol.Http,
        ["socks5"] = ListenerProtocol.Socks5,
        ["https"] = ListenerProtocol.Https,
        ["http+socks5"] = ListenerProtocol.HttpAndSocks5,
    };

    private static readonly Dictionary<string, StateStore> StateStores = new()
    {
        ["memory"] = StateStore.Memory,
        ["redis"] = StateStore.Redis,
    };

    private static readonly TimeSpan OneDay = TimeSpan.FromDays(1);

    /// <summary>Reads <c>Engine</c> from a configuration root.</summary>
    public static EngineConfigResult Read(IConfiguration configuration)
    {
        var problems = new List<ConfigProblem>();
        var reader = new ConfigSectionReader(problems);
        IConfigurationSection engine = configuration.GetSection(EngineOptions.SectionName);
        if (!engine.Exists())
        {
            reader.Report(EngineOptions.SectionName, "section is missing (the file must have a top-level \"Engine\" object)");
            return new EngineConfigResult(new EngineOptions(), problems);
        }

        reader.CheckKeys(engine, "Name", "Listeners", "Admin", "Limits", "Errors", "Security", "Packages", "Credits", "Nodes", "NodeSources", "State", "Routing", "AccessLog", "WarmUp");

        LimitsOptions limits = ReadLimits(reader, engine.GetSection("Limits"));
        var options = new EngineOptions
        {
            Name = ReadName(reader, engine),
            Errors = ReadErrors(reader, engine.GetSection("Errors")),
            Listeners = ReadListeners(reader, engine),
            Admin = ReadAdmin(reader, engine),
            Limits = limits,
            Security = ReadSecurity(reader, engine.GetSection("Security")),
            Packages = ReadPackages(reader, engine),
            Credits = ReadCredits(reader, engine.GetSection("Credits")),
            NodeSources = ReadNodeSources(reader, engine),
            Nodes = ReadNodes(reader, engine, engine.GetSection("NodeSources").Exists()),
            State = ReadState(reader, engine.GetSection("State")),
            Routing = ReadRouting(reader, engine.GetSection("Routing")),
            AccessLog = ReadAccessLog(reader, engine.GetSection("AccessLog")),
            WarmUp = reader.Bool(engine, "WarmUp", true),
        };

        CheckEndpointsDistinct(reader, engine, options);
        return new EngineConfigResult(options, problems);
    }

    private static string ReadName(ConfigSectionReader reader, IConfigurationSection engine)
    {
        string? name = reader.String(engine, "Name");
        if (name is null)
        {
            return "engine";
        }

        // It goes into Via and Proxy-Status: the error writer's own rule, so a name that passes here starts.
        if (ErrorWriterOptions.EngineNameProblem(name) is { } problem)
        {
            reader.Report(engine.GetSection("Name"), $"'{name}' {problem}");
            return "engine";
        }

        return name;
    }

    // Engine:Errors: the problem type prefix and the Basic realm, checked by the error writer's own rules.
    private static ErrorWriterOptions ReadErrors(ConfigSectionReader reader, IConfigurationSection section)
    {
        reader.CheckKeys(section, "TypeBase", "Realm");
        var defaults = new ErrorWriterOptions();
        string typeBase = reader.String(section, "TypeBase") ?? defaults.TypeBase;
        string realm = reader.String(section, "Realm") ?? defaults.Realm;
        if (ErrorWriterOptions.TypeBaseProblem(typeBase) is { } typeProblem)
        {
            reader.Report(section.GetSection("TypeBase"), $"'{typeBase}' {typeProblem}");
            typeBase = defaults.TypeBase;
        }

        if (ErrorWriterOptions.RealmProblem(realm) is { } realmProblem)
        {
            reader.Report(section.GetSection("Realm"), $"'{realm}' {realmProblem}");
            realm = defaults.Realm;
        }

        return new ErrorWriterOptions { TypeBase = typeBase, Realm = realm };
    }

    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~';

    private static List<ListenerOptions> ReadListeners(ConfigSectionReader reader, IConfigurationSection engine)
    {
        IReadOnlyList<IConfigurationSection> items = reader.Array(engine, "Listeners");
        var listeners = new List<ListenerOptions>(items.Count);
        if (items.Count == 0)
        {
            reader.Report(engine.GetSection("Listeners"), "at least one listener is required");
        }

        foreach (IConfigurationSection item in items)
        {
            reader.CheckKeys(item, "Endpoint", "Protocol", "Certificate", "CertificateKey", "CertificatePassword", "Backlog", "ProxyProtocol");
            IPEndPoint? endpoint = reader.EndPoint(item, "Endpoint", required: true, allowPortZero: true);
            ListenerProtocol protocol = reader.Enum(item, "Protocol", ListenerProtocol.Http, ListenerProtocols);
            string? certificate = reader.String(item, "Certificate");
            string? certificateKey = reader.String(item, "CertificateKey");
            string? certificatePassword = reader.String(item, "CertificatePassword");
            if (protocol == ListenerProtocol.Https && certificate is null)
            {
                reader.Report(item.GetSection("Certificate"), "is required for an https listener (a PFX file, or a PEM certificate with CertificateKey)");
            }
            else if (protocol != ListenerProtocol.Https && (certificate ?? certificateKey ?? certificatePassword) is not null)
            {
                reader.Report(item.GetSection(certificate is not null ? "Certificate" : certificateKey is not null ? "CertificateKey" : "CertificatePassword"), "only applies to an https listener");
            }
            else if (certificate is not null && CertificateProblem(certificate, certificateKey, certificatePassword) is { } problem)
            {
                reader.Report(item.GetSection("Certificate"), problem);
            }

            listeners.Add(new ListenerOptions
            {
                Endpoint = endpoint ?? new IPEndPoint(IPAddress.Loopback, 0),
                Protocol = protocol,
                Certificate = certificate,
                CertificateKey = certificateKey,
                CertificatePassword = certificatePassword,
                Backlog = reader.Int(item, "Backlog", ListenerOptions.DefaultBacklog, 1, 65535),
                ProxyProtocol = reader.Bool(item, "ProxyProtocol", false),
            });
        }

        return listeners;
    }

    /// <summary>Loads the certificate once, so --check-config catches a wrong path, password or key pair.</summary>
    private static string? CertificateProblem(string certificate, string? key, string? password)
    {
        try
        {
            using var source = new Engine.Transport.TlsCertificateSource(certificate, key, password);
            return source.Current.HasPrivateKey ? null : $"'{certificate}' has no private key";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            return $"'{certificate}' cannot be loaded: {e.Message}";
        }
    }

    private static AdminOptions? ReadAdmin(ConfigSectionReader reader, IConfigurationSection engine)
    {
        IConfigurationSection admin = engine.GetSection("Admin");
        if (!admin.Exists() || admin.Value is { Length: 0 })
        {
            return null;
        }

        reader.CheckKeys(admin, "Endpoint", "Token");
        IPEndPoint? endpoint = reader.EndPoint(admin, "Endpoint", required: true, allowPortZero: true);
        string token = reader.RequiredString(admin, "Token");
        return new AdminOptions { Endpoint = endpoint ?? new IPEndPoint(IPAddress.Loopback, 0), Token = token };
    }

    private static LimitsOptions ReadLimits(ConfigSectionReader reader, IConfigurationSection section)
    {
        var defaults = new LimitsOptions();
        reader.CheckKeys(section, "MaxConnections", "RequestHeadTimeout", "IdleTimeout", "ConnectTimeout", "ResponseHeadTimeout",
            "MaxRequestHeadBytes", "MaxRequestLineBytes", "MaxHeaderCount", "ShutdownDrain", "MaxPendingWork", "MaxLoopLag", "MaxDrainBytes", "LingerTimeout");
        var limits = new LimitsOptions
        {
            MaxConnections = reader.Int(section, "MaxConnections", defaults.MaxConnections, 1, 10_000_000),
            RequestHeadTimeout = reader.Duration(section, "RequestHeadTimeout", defaults.RequestHeadTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            IdleTimeout = reader.Duration(section, "IdleTimeout", defaults.IdleTimeout, TimeSpan.FromSeconds(1), OneDay),
            ConnectTimeout = reader.Duration(section, "ConnectTimeout", defaults.ConnectTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            ResponseHeadTimeout = reader.Duration(section, "ResponseHeadTimeout", defaults.ResponseHeadTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            // Below 1 KB no real browser or client request head fits; above 1 MB one connection could pin too much memory.
            MaxRequestHeadBytes = reader.Int(section, "MaxRequestHeadBytes", defaults.MaxRequestHeadBytes, 1024, 1024 * 1024),
            MaxRequestLineBytes = reader.Int(section, "MaxRequestLineBytes", defaults.MaxRequestLineBytes, 256, 1024 * 1024),
            MaxHeaderCount = reader.Int(section, "MaxHeaderCount", defaults.MaxHeaderCount, 1, 10_000),
            ShutdownDrain = reader.Duration(section, "ShutdownDrain", defaults.ShutdownDrain, TimeSpan.Zero, TimeSpan.FromMinutes(10)),
            MaxPendingWork = reader.Int(section, "MaxPendingWork", defaults.MaxPendingWork, 0, 10_000_000),
            MaxLoopLag = reader.Duration(section, "MaxLoopLag", defaults.MaxLoopLag, TimeSpan.Zero, TimeSpan.FromMinutes(1)),
            MaxDrainBytes = reader.NullableLong(section, "MaxDrainBytes", 0, 1L << 30) ?? defaults.MaxDrainBytes,
            LingerTimeout = reader.Duration(section, "LingerTimeout", defaults.LingerTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(1)),
        };

        if (limits.MaxRequestLineBytes > limits.MaxRequestHeadBytes)
        {
            reader.Report(section.GetSection("MaxRequestLineBytes"), $"{limits.MaxRequestLineBytes} is larger than MaxRequestHeadBytes ({limits.MaxRequestHeadBytes}), which includes the request line");
        }

        return limits;
    }

    private static RoutingOptions ReadRouting(ConfigSectionReader reader, IConfigurationSection section)
    {
        var defaults = new RoutingOptions();
        reader.CheckKeys(section, "MaxAttempts", "FailuresToEject", "EjectBase", "EjectMax", "DomainBanFailures", "DomainBanTtl", "ExposeNode", "ProbeUrl", "ProbeInterval");
        var routing = new RoutingOptions
        {
            MaxAttempts = reader.Int(section, "MaxAttempts", defaults.MaxAttempts, 1, 10),
            FailuresToEject = reader.Int(section, "FailuresToEject", defaults.FailuresToEject, 1, 1000),
            EjectBase = reader.Duration(section, "EjectBase", defaults.EjectBase, TimeSpan.FromMilliseconds(100), OneDay),
            EjectMax = reader.Duration(section, "EjectMax", defaults.EjectMax, TimeSpan.FromMilliseconds(100), OneDay),
            DomainBanFailures = reader.Int(section, "DomainBanFailures", defaults.DomainBanFailures, 1, 1000),
            DomainBanTtl = reader.Duration(section, "DomainBanTtl", defaults.DomainBanTtl, TimeSpan.FromSeconds(1), OneDay),
            ExposeNode = reader.Bool(section, "ExposeNode", defaults.ExposeNode),
            ProbeUrl = ReadProbeUrl(reader, section),
            ProbeInterval = reader.Duration(section, "ProbeInterval", defaults.ProbeInterval, TimeSpan.FromSeconds(1), OneDay),
        };

        if (routing.EjectMax < routing.EjectBase)
        {
            reader.Report(section.GetSection("EjectMax"), $"{routing.EjectMax} is shorter than EjectBase ({routing.EjectBase})");
        }

        return routing;
    }

    private static Uri? ReadProbeUrl(ConfigSectionReader reader, IConfigurationSection section)
    {
        string? text = reader.String(section, "ProbeUrl");
        if (text is null)
        {
            return null;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
        {
            reader.Report(section.GetSection("ProbeUrl"), $"'{text}' is not an absolute http:// or https:// URL");
            return null;
        }

        return url;
    }

    private static SecurityOptions ReadSecurity(ConfigSectionReader reader, IConfigurationSection section)
    {
        var defaults = new SecurityOptions();
        reader.CheckKeys(section, "AllowPrivateTargets", "AllowedConnectPorts", "AllowedHttpPorts", "BlockedDomains", "AuthFailuresPerMinute");

        IReadOnlyList<IConfigurationSection> portItems = reader.Array(section, "AllowedConnectPorts", out bool portsPresent);
        var ports = new List<int>(portItems.Count);
        foreach (IConfigurationSection item in portItems)
        {
            if (reader.ParseLong(item, item.Value ?? "", 1, 65535) is long port)
            {
                ports.Add((int)port);
            }
        }

        IReadOnlyList<IConfigurationSection> httpItems = reader.Array(section, "AllowedHttpPorts", out bool httpPresent);
        var httpPorts = new List<Targets.PortRange>(httpItems.Count);
        foreach (IConfigurationSection item in httpItems)
        {
            if (Targets.PortRange.TryParse(item.Value ?? "", out Targets.PortRange range))
            {
                httpPorts.Add(range);
            }
            else
            {
                reader.Report(item, $"'{item.Value}' is not a port (1-65535) or a range of ports ('1024-65535')");
            }
        }

        IReadOnlyList<string>? domains = reader.StringList(section, "BlockedDomains");
        if (domains is not null)
        {
            IConfigurationSection list = section.GetSection("BlockedDomains");
            for (int i = 0; i < domains.Count; i++)
            {
                if (!IsDomainName(domains[i].TrimStart('.')))
                {
                    reader.Report($"{ConfigSectionReader.JsonPath(list)}[{i}]", $"'{domains[i]}' is not a domain name (no scheme, port or path)");
                }
            }
        }

        return new SecurityOptions
        {
            AllowPrivateTargets = reader.Bool(section, "AllowPrivateTargets", defaults.AllowPrivateTargets),
            AllowedConnectPorts = portsPresent ? ports : defaults.AllowedConnectPorts,
            AllowedHttpPorts = httpPresent ? httpPorts : defaults.AllowedHttpPorts,
            BlockedDomains = domains ?? defaults.BlockedDomains,
            AuthFailuresPerMinute = reader.Int(section, "AuthFailuresPerMinute", defaults.AuthFailuresPerMinute, 0, 1_000_000),
        };
    }

    private static bool IsDomainName(string name) =>
        name.Length is > 0 and <= 253
        && name.Split('.').All(label => label.Length is > 0 and <= 63 && label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));

    private static CreditsOptions ReadCredits(ConfigSectionReader reader, IConfigurationSection section)
    {
        reader.CheckKeys(section, "PoolBytes");
        return new CreditsOptions { PoolBytes = reader.NullableLong(section, "PoolBytes", 0, long.MaxValue) };
    }

    private static StateOptions ReadState(ConfigSectionReader reader, IConfigurationSection section)
    {
        reader.CheckKeys(section, "Store", "Redis");
        StateStore store = reader.Enum(section, "Store", StateStore.Memory, StateStores);
        string? redis = reader.String(section, "Redis");
        if (store == StateStore.Redis && redis is null)
        {
            reader.Report(section.GetSection("Redis"), "is required when Store is redis");
        }
        else if (redis is not null && !IsHostPortWithPort(redis.Split(',')[0]))
        {
            reader.Report(section.GetSection("Redis"), $"'{redis.Split(',')[0]}' is not a valid host:port");
        }

        return new StateOptions { Store = store, Redis = redis };
    }

    private static bool IsHostPortWithPort(string text) => Http.HostPort.TryParse(text, out _, out int port) && port != 0;

    private static void CheckEndpointsDistinct(ConfigSectionReader reader, IConfigurationSection engine, EngineOptions options)
    {
        var seen = new Dictionary<IPEndPoint, string>();
        for (int i = 0; i < options.Listeners.Count; i++)
        {
            Claim(options.Listeners[i].Endpoint, $"{ConfigSectionReader.JsonPath(engine)}.Listeners[{i}].Endpoint");
        }

        if (options.Admin is not null)
        {
            Claim(options.Admin.Endpoint, $"{ConfigSectionReader.JsonPath(engine)}.Admin.Endpoint");
        }

        void Claim(IPEndPoint endpoint, string path)
        {
            if (endpoint.Port == 0)
            {
                return;
            }

            if (!seen.TryAdd(endpoint, path))
            {
                reader.Report(path, $"'{endpoint}' is already used by {seen[endpoint]}");
            }
        }
    }
}
