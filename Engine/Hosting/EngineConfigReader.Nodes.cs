using System.Net;
using Microsoft.Extensions.Configuration;
using Engine.Upstream;

namespace Engine.Hosting;

internal static partial class EngineConfigReader
{
    private static readonly Dictionary<string, NodeType> NodeTypes = new()
    {
        ["direct"] = NodeType.Direct,
        ["http"] = NodeType.Http,
        ["socks5"] = NodeType.Socks5,
    };

    private static List<NodeOptions> ReadNodes(ConfigSectionReader reader, IConfigurationSection engine, bool hasSources)
    {
        IReadOnlyList<IConfigurationSection> items = reader.Array(engine, "Nodes");
        if (items.Count == 0 && !hasSources)
        {
            reader.Report(engine.GetSection("Nodes"), "at least one node is required (a {\"Id\": \"local\", \"Type\": \"direct\"} node uses this host)");
        }

        var nodes = new List<NodeOptions>(items.Count);
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (IConfigurationSection item in items)
        {
            NodeOptions node = ReadNode(reader, item);
            if (node.Id.Length > 0 && !ids.TryAdd(node.Id, ConfigSectionReader.JsonPath(item)))
            {
                reader.Report(item.GetSection("Id"), $"'{node.Id}' is already the Id of {ids[node.Id]}");
            }

            nodes.Add(node);
        }

        return nodes;
    }

    /// <summary>One node object (the admin API's <c>PUT /nodes/{id}</c>), validated as a config node is; problems are under <c>Node.</c>.</summary>
    internal static NodeOptions ReadSingleNode(IConfiguration root, List<ConfigProblem> problems) =>
        ReadNode(new ConfigSectionReader(problems), root.GetSection("Node"));

    private static readonly Dictionary<string, Upstream.NodeSourceFormat> SourceFormats = new()
    {
        ["lines"] = Upstream.NodeSourceFormat.Lines,
        ["json"] = Upstream.NodeSourceFormat.Json,
        ["csv"] = Upstream.NodeSourceFormat.Csv,
    };

    private static List<Upstream.NodeSourceOptions> ReadNodeSources(ConfigSectionReader reader, IConfigurationSection engine)
    {
        var sources = new List<Upstream.NodeSourceOptions>();
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (IConfigurationSection item in reader.Array(engine, "NodeSources"))
        {
            reader.CheckKeys(item, "Path", "Format", "Type", "IdPrefix", "Country", "Region", "City", "Isp", "Asn", "Network", "Weight");
            string path = reader.RequiredString(item, "Path");
            if (path.Length > 0 && !paths.Add(Path.GetFullPath(path)))
            {
                reader.Report(item.GetSection("Path"), $"'{path}' is already a node source");
            }

            NodeType type = reader.Enum(item, "Type", NodeType.Http, NodeTypes);
            if (type == NodeType.Direct)
            {
                reader.Report(item.GetSection("Type"), "a node source lists upstream proxies: http or socks5");
            }

            string prefix = reader.String(item, "IdPrefix") ?? "";
            if (!prefix.All(IsTokenChar))
            {
                reader.Report(item.GetSection("IdPrefix"), $"'{prefix}' must be letters, digits and -._~ only");
            }

            (string? country, string? network) = ReadCountryAndNetwork(reader, item);

            sources.Add(new Upstream.NodeSourceOptions
            {
                Path = path.Length > 0 ? Path.GetFullPath(path) : path,
                Format = reader.Enum(item, "Format", Upstream.NodeSourceFormat.Lines, SourceFormats),
                Type = type,
                IdPrefix = prefix,
                Country = country,
                Region = RuleValue(reader, item, "Region"),
                City = RuleValue(reader, item, "City"),
                Isp = RuleValue(reader, item, "Isp"),
                Asn = reader.NullableLong(item, "Asn", 1, uint.MaxValue),
                Network = network,
                Weight = reader.Int(item, "Weight", 1, 0, 1_000_000),
            });
        }

        return sources;
    }

    private static NodeOptions ReadNode(ConfigSectionReader reader, IConfigurationSection item)
    {
        reader.CheckKeys(item, "Id", "Type", "Address", "Username", "Password", "LocalAddress", "Country", "Region", "City", "Isp", "Asn", "Network", "Weight", "Gateway");
        string id = reader.RequiredString(item, "Id");
        if (id.Length > 0 && !id.All(IsTokenChar))
        {
            reader.Report(item.GetSection("Id"), $"'{id}' must be letters, digits and -._~ only");
        }

        NodeType type = reader.Enum(item, "Type", NodeType.Direct, NodeTypes);
        if (!item.GetSection("Type").Exists())
        {
            reader.Report(item.GetSection("Type"), $"is required (one of {string.Join(", ", NodeTypes.Keys)})");
        }

        string? address = reader.String(item, "Address");
        string? username = reader.String(item, "Username");
        string? password = reader.String(item, "Password");
        if (type == NodeType.Direct)
        {
            foreach ((string key, string? value) in new[] { ("Address", address), ("Username", username), ("Password", password) })
            {
                if (value is not null)
                {
                    reader.Report(item.GetSection(key), "only applies to http and socks5 nodes");
                }
            }
        }
        else if (address is null)
        {
            reader.Report(item.GetSection("Address"), $"is required for a {type.ToString().ToLowerInvariant()} node (host:port of the upstream proxy)");
        }
        else if (!Http.HostPort.TryParse(address, out _, out int port) || port == 0)
        {
            reader.Report(item.GetSection("Address"), $"'{address}' is not a valid host:port (port 1..65535)");
        }

        if ((username is null) != (password is null))
        {
            reader.Report(item.GetSection(username is null ? "Username" : "Password"), "Username and Password go together");
        }

        IPAddress? localAddress = null;
        if (reader.String(item, "LocalAddress") is { } localText && !IPAddress.TryParse(localText, out localAddress))
        {
            reader.Report(item.GetSection("LocalAddress"), $"'{localText}' is not an IP address");
        }

        (string? country, string? network) = ReadCountryAndNetwork(reader, item);

        Upstream.GatewayOptions? gateway = ReadGateway(reader, item, type, username);
        return new NodeOptions
        {
            Gateway = gateway,
            Id = id,
            Type = type,
            Address = address,
            Username = username,
            Password = password,
            LocalAddress = localAddress,
            Country = country,
            Region = RuleValue(reader, item, "Region"),
            City = RuleValue(reader, item, "City"),
            Isp = RuleValue(reader, item, "Isp"),
            Asn = reader.NullableLong(item, "Asn", 1, uint.MaxValue),
            Network = network,
            Weight = reader.Int(item, "Weight", 1, 0, 1_000_000),
        };
    }

    private static Upstream.GatewayOptions? ReadGateway(ConfigSectionReader reader, IConfigurationSection item, NodeType type, string? username)
    {
        IConfigurationSection section = item.GetSection("Gateway");
        if (!section.Exists())
        {
            return null;
        }

        reader.CheckKeys(section, "Preset", "Account", "UsernameTemplate", "PasswordTemplate", "Password", "SessionIdLength", "MaxSessionSeconds", "FailuresToEject");
        var gateway = new Upstream.GatewayOptions
        {
            Preset = reader.String(section, "Preset"),
            Account = reader.String(section, "Account"),
            UsernameTemplate = reader.String(section, "UsernameTemplate"),
            PasswordTemplate = reader.String(section, "PasswordTemplate"),
            Password = reader.String(section, "Password"),
            SessionIdLength = reader.Int(section, "SessionIdLength", 0, 0, 64),
            MaxSessionSeconds = reader.Int(section, "MaxSessionSeconds", 0, 0, 604_800),
            FailuresToEject = reader.Int(section, "FailuresToEject", 0, 0, 1_000_000),
        };
        if (type == NodeType.Direct)
        {
            reader.Report(section, "only applies to http and socks5 nodes (the provider's endpoint is the Address)");
        }

        if (username is not null)
        {
            reader.Report(item.GetSection("Username"), "a gateway renders its credentials per request: put them in Gateway (Password, Account, templates)");
        }

        if (Upstream.Gateway.Create(gateway, out string? error) is null)
        {
            reader.Report(section, error!);
        }

        return gateway;
    }

    /// <summary>Tags that rules match exactly: <c>[a-z0-9_]+</c> (rules.md), so <c>new_york</c>, never <c>new-york</c>.</summary>
    private static string? RuleValue(ConfigSectionReader reader, IConfigurationSection item, string key)
    {
        string? value = reader.String(item, key);
        if (value is not null && !value.All(IsRuleChar))
        {
            reader.Report(item.GetSection(key), $"'{value}' must be lowercase letters, digits and '_' (rules match it exactly; use new_york, not New York or new-york)");
        }

        return value;
    }

    /// <summary>A node's or a node source's <c>Country</c> and <c>Network</c> tags, each checked once for both.</summary>
    private static (string? Country, string? Network) ReadCountryAndNetwork(ConfigSectionReader reader, IConfigurationSection item)
    {
        string? country = reader.String(item, "Country");
        if (country is not null && !(country.Length == 2 && country.All(char.IsAsciiLetterLower)
            && Engine.Rules.IsoCountries.IsAssigned(Engine.Rules.IsoCountries.Pack((byte)country[0], (byte)country[1]))))
        {
            reader.Report(item.GetSection("Country"), $"'{country}' must be an assigned ISO 3166-1 alpha-2 code in lowercase (like us; gb, not uk), or absent");
        }

        string? network = reader.String(item, "Network");
        if (network is not null && !KnownNetworks.Contains(network, StringComparer.Ordinal))
        {
            reader.Report(item.GetSection("Network"), $"'{network}' is not one of {string.Join(", ", KnownNetworks)}");
        }

        return (country, network);
    }
}
