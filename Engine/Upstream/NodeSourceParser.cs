using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Hosting;
using Engine.Rules;

namespace Engine.Upstream;

/// <summary>
/// Reads a node source (docs/configuration.md "NodeSources") into node options. A bad line is a
/// problem with its line number and is skipped; the rest loads. Ids are the source's prefix plus
/// the row's <c>id</c>, or <c>host-port[-user]</c> so an edited file keeps the ids (and the health
/// and sessions) of the lines it did not change.
/// </summary>
internal static class NodeSourceParser
{
    private static readonly string[] Networks = ["res", "mob", "dc"];

    private static readonly string[] CsvColumns =
        ["id", "type", "address", "host", "port", "username", "password", "country", "region", "city", "isp", "asn", "network", "weight"];

    public static NodeSourceResult Parse(string text, NodeSourceOptions source)
    {
        var result = new NodeSourceResult();
        switch (source.Format)
        {
            case NodeSourceFormat.Json:
                ParseJson(text, source, result);
                break;
            case NodeSourceFormat.Csv:
                ParseCsv(text, source, result);
                break;
            default:
                ParseLines(text, source, result);
                break;
        }

        return result;
    }

    private static void ParseLines(string text, NodeSourceOptions source, NodeSourceResult result)
    {
        int number = 0;
        foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
        {
            number++;
            ReadOnlySpan<char> line = raw.Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }

            if (!TryParseLine(line.ToString(), source, out Row row, out string? error))
            {
                result.Problem(number, error!);
                continue;
            }

            Add(row, source, number, result);
        }
    }

    /// <summary><c>host:port</c>, <c>host:port:user:pass</c>, <c>user:pass@host:port</c>, <c>scheme://[user:pass@]host:port</c>.</summary>
    internal static bool TryParseLine(string line, NodeSourceOptions source, out Row row, out string? error)
    {
        row = new Row { Type = source.Type };
        string rest = line;
        int scheme = rest.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            string name = rest[..scheme].ToLowerInvariant();
            if (!TryType(name, out NodeType type))
            {
                error = $"scheme '{name}' is not http, socks5 or socks5h";
                return false;
            }

            row.Type = type;
            rest = rest[(scheme + 3)..].TrimEnd('/');
        }

        int at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            string credentials = rest[..at];
            int colon = credentials.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                error = "credentials before '@' must be user:pass";
                return false;
            }

            row.Username = Uri.UnescapeDataString(credentials[..colon]);
            row.Password = Uri.UnescapeDataString(credentials[(colon + 1)..]);
            row.Address = rest[(at + 1)..];
        }
        else if (scheme < 0 && SplitColons(rest) is { Length: 4 } parts)
        {
            row.Address = parts[0] + ":" + parts[1];
            row.Username = parts[2];
            row.Password = parts[3];
        }
        else
        {
            row.Address = rest;
        }

        return CheckAddress(ref row, out error);
    }

    // host:port:user:pass, with a bracketed IPv6 host; the password keeps any further colons.
    private static string[] SplitColons(string text)
    {
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return [text];
            }

            string[] tail = text[(close + 1)..].TrimStart(':').Split(':', 3);
            return [text[..(close + 1)], .. tail];
        }

        return text.Split(':', 4);
    }

    private static void ParseJson(string text, NodeSourceOptions source, NodeSourceResult result)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                result.Fatal(1, "a json source is an array of node objects");
                return;
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int line = LineAt(utf8, (int)reader.TokenStartIndex);
                using JsonDocument element = JsonDocument.ParseValue(ref reader);
                if (element.RootElement.ValueKind != JsonValueKind.Object)
                {
                    result.Problem(line, "not a node object");
                    continue;
                }

                var fields = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
                foreach (JsonProperty property in element.RootElement.EnumerateObject())
                {
                    fields[property.Name] = property.Value.ValueKind switch
                    {
                        JsonValueKind.String => property.Value.GetString(),
                        JsonValueKind.Number => property.Value.GetRawText(),
                        JsonValueKind.Null => null,
                        _ => property.Value.GetRawText(),
                    };
                }

                if (!TryRow(fields, source, out Row row, out string? error))
                {
                    result.Problem(line, error!);
                    continue;
                }

                Add(row, source, line, result);
            }
        }
        catch (JsonException e)
        {
            result.Fatal((int)(e.LineNumber ?? 0) + 1, "not valid JSON: " + e.Message);
        }
    }

    private static void ParseCsv(string text, NodeSourceOptions source, NodeSourceResult result)
    {
        string[]? header = null;
        int number = 0;
        foreach (ReadOnlySpan<char> raw in text.AsSpan().EnumerateLines())
        {
            number++;
            ReadOnlySpan<char> line = raw.Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }

            string[] cells = SplitCsv(line.ToString());
            if (header is null)
            {
                header = [.. cells.Select(c => c.Trim().ToLowerInvariant())];
                string? unknown = header.FirstOrDefault(c => !CsvColumns.Contains(c, StringComparer.Ordinal));
                if (unknown is not null)
                {
                    result.Fatal(number, $"unknown column '{unknown}' (known: {string.Join(", ", CsvColumns)})");
                    return;
                }

                if (!header.Contains("address") && !(header.Contains("host") && header.Contains("port")))
                {
                    result.Fatal(number, "the header needs an address column, or host and port");
                    return;
                }

                continue;
            }

            if (cells.Length != header.Length)
            {
                result.Problem(number, $"{cells.Length} cells where the header has {header.Length}");
                continue;
            }

            var fields = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < header.Length; i++)
            {
                fields[header[i]] = cells[i].Length == 0 ? null : cells[i];
            }

            if (fields.TryGetValue("host", out string? host) && host is not null)
            {
                fields["address"] = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{fields.GetValueOrDefault("port")}" : $"{host}:{fields.GetValueOrDefault("port")}";
            }

            if (!TryRow(fields, source, out Row row, out string? error))
            {
                result.Problem(number, error!);
                continue;
            }

            Add(row, source, number, result);
        }
    }

    // RFC 4180 cells: commas, "quoted, cells" with "" for a quote; one record per line.
    private static string[] SplitCsv(string line)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                cells.Add(cell.ToString().Trim());
                cell.Clear();
            }
            else
            {
                cell.Append(c);
            }
        }

        cells.Add(cell.ToString().Trim());
        return [.. cells];
    }

    /// <summary>A JSON object or CSV record, with the same keys as a config node (case-insensitive).</summary>
    private static bool TryRow(Dictionary<string, string?> fields, NodeSourceOptions source, out Row row, out string? error)
    {
        row = new Row { Type = source.Type };
        string? unknown = fields.Keys.FirstOrDefault(k => !CsvColumns.Contains(k.ToLowerInvariant(), StringComparer.Ordinal));
        if (unknown is not null)
        {
            error = $"unknown key '{unknown}'";
            return false;
        }

        if (fields.GetValueOrDefault("type") is { } typeName && !TryType(typeName.ToLowerInvariant(), out row.Type))
        {
            error = $"type '{typeName}' is not http or socks5";
            return false;
        }

        row.Id = fields.GetValueOrDefault("id");
        row.Address = fields.GetValueOrDefault("address") ?? "";
        row.Username = fields.GetValueOrDefault("username");
        row.Password = fields.GetValueOrDefault("password");
        row.Country = fields.GetValueOrDefault("country");
        row.Region = fields.GetValueOrDefault("region");
        row.City = fields.GetValueOrDefault("city");
        row.Isp = fields.GetValueOrDefault("isp");
        row.Network = fields.GetValueOrDefault("network");
        if (fields.GetValueOrDefault("asn") is { } asnText)
        {
            if (!long.TryParse(asnText, NumberStyles.None, CultureInfo.InvariantCulture, out long asn) || asn is < 1 or > uint.MaxValue)
            {
                error = $"asn '{asnText}' is not 1..4294967295";
                return false;
            }

            row.Asn = asn;
        }

        if (fields.GetValueOrDefault("weight") is { } weightText)
        {
            if (!int.TryParse(weightText, NumberStyles.None, CultureInfo.InvariantCulture, out int weight) || weight > 1_000_000)
            {
                error = $"weight '{weightText}' is not 0..1000000";
                return false;
            }

            row.Weight = weight;
        }

        return CheckAddress(ref row, out error);
    }

    private static bool CheckAddress(ref Row row, out string? error)
    {
        if (!Http.HostPort.TryParse(row.Address, out row.Host, out row.Port) || row.Port == 0)
        {
            error = $"'{row.Address}' is not host:port (port 1..65535)";
            return false;
        }

        error = null;
        return true;
    }

    private static void Add(Row row, NodeSourceOptions source, int line, NodeSourceResult result)
    {
        if ((row.Username is null) != (row.Password is null))
        {
            result.Problem(line, "username and password go together");
            return;
        }

        string? country = row.Country ?? source.Country;
        if (country is not null && !(country.Length == 2 && country.All(char.IsAsciiLetterLower) && IsoCountries.IsAssigned(IsoCountries.Pack((byte)country[0], (byte)country[1]))))
        {
            result.Problem(line, $"country '{country}' is not an assigned ISO 3166-1 alpha-2 code in lowercase");
            return;
        }

        if (!RuleValue("region", row.Region, line, result) || !RuleValue("city", row.City, line, result) || !RuleValue("isp", row.Isp, line, result))
        {
            return;
        }

        string? network = row.Network ?? source.Network;
        if (network is not null && !Networks.Contains(network, StringComparer.Ordinal))
        {
            result.Problem(line, $"network '{network}' is not one of res, mob, dc");
            return;
        }

        string id = source.IdPrefix + (row.Id ?? DerivedId(row.Host, row.Port, row.Username));
        if (id.Length == 0 || !id.All(IsTokenChar))
        {
            result.Problem(line, $"id '{id}' must be letters, digits and -._~ only");
            return;
        }

        if (!result.Lines.TryAdd(id, line))
        {
            result.Problem(line, $"duplicate of line {result.Lines[id]} (id '{id}')");
            return;
        }

        result.Nodes.Add(new NodeOptions
        {
            Id = id,
            Type = row.Type,
            Address = row.Address,
            Username = row.Username,
            Password = row.Password,
            Country = country,
            Region = row.Region ?? source.Region,
            City = row.City ?? source.City,
            Isp = row.Isp ?? source.Isp,
            Asn = row.Asn ?? source.Asn,
            Network = network,
            Weight = row.Weight ?? source.Weight,
            Origin = result.Origin ??= "source:" + source.Path,
        });
    }

    private static bool RuleValue(string name, string? value, int line, NodeSourceResult result)
    {
        if (value is null || value.All(EngineConfigReader.IsRuleChar))
        {
            return true;
        }

        result.Problem(line, $"{name} '{value}' must be lowercase letters, digits and '_'");
        return false;
    }

    /// <summary><c>10.0.0.1-3128</c>, <c>10.0.0.1-3128-user7</c>: stable across edits of other lines.</summary>
    private static string DerivedId(string host, int port, string? username)
    {
        if (host.All(IsTokenChar) && (username is null || username.All(IsTokenChar)))
        {
            return username is null
                ? string.Concat(host, "-", port.ToString(CultureInfo.InvariantCulture))
                : string.Concat(host, "-", port.ToString(CultureInfo.InvariantCulture), "-" + username);
        }

        var id = new StringBuilder(host.Length + 16);
        foreach (char c in host)
        {
            id.Append(IsTokenChar(c) ? c : '_');
        }

        id.Append('-').Append(port.ToString(CultureInfo.InvariantCulture));
        if (username is not null)
        {
            id.Append('-');
            foreach (char c in username)
            {
                id.Append(IsTokenChar(c) ? c : '_');
            }
        }

        return id.ToString();
    }

    private static bool TryType(string name, out NodeType type)
    {
        type = name switch
        {
            "http" => NodeType.Http,
            "socks5" or "socks5h" => NodeType.Socks5,   // the engine always sends names to SOCKS nodes (remote resolution)
            _ => NodeType.Direct,
        };
        return type != NodeType.Direct;
    }

    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~';

    private static int LineAt(byte[] utf8, int offset)
    {
        int line = 1;
        foreach (byte b in utf8.AsSpan(0, Math.Min(offset, utf8.Length)))
        {
            if (b == (byte)'\n')
            {
                line++;
            }
        }

        return line;
    }

    internal struct Row
    {
        public string? Id;
        public NodeType Type;
        public string Address;
        public string Host;
        public int Port;
        public string? Username;
        public string? Password;
        public string? Country;
        public string? Region;
        public string? City;
        public string? Isp;
        public long? Asn;
        public string? Network;
        public int? Weight;
    }
}

/// <summary>A source read: the nodes of its good lines, and a problem per bad one.</summary>
internal sealed class NodeSourceResult
{
    public List<NodeOptions> Nodes { get; } = [];

    public List<NodeSourceProblem> Problems { get; } = [];

    /// <summary>The file could not be read as a whole (JSON syntax, a CSV header): keep the last good nodes.</summary>
    public bool IsFatal { get; private set; }

    /// <summary><c>source:PATH</c>, made once for every node of the file.</summary>
    internal string? Origin { get; set; }

    /// <summary>Id → the line that defined it (duplicates are reported against it).</summary>
    internal Dictionary<string, int> Lines { get; } = new(StringComparer.Ordinal);

    public void Problem(int line, string message) => Problems.Add(new NodeSourceProblem(line, message));

    public void Fatal(int line, string message)
    {
        IsFatal = true;
        Problem(line, message);
    }
}

internal readonly record struct NodeSourceProblem(int Line, string Message);
