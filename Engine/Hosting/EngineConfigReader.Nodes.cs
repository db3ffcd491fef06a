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

    private static List<NodeOptions> ReadNodes(ConfigSectionReader reader, IConfigurationSection engine)
    {
        IReadOnlyList<IConfigurationSection> items = reader.Array(engine, "Nodes");
        if (items.Count == 0)
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

    private static NodeOptions ReadNode(ConfigSectionReader reader, IConfigurationSection item)
    {
        reader.CheckKeys(item, "Id", "Type", "Address", "Username", "Password", "LocalAddress", "Country", "Region", "City", "Isp", "Asn", "Network", "Weight");
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

        return new NodeOptions
        {
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
}
