using System.Globalization;
using System.Text;

namespace Engine.Upstream;

/// <summary>
/// A provider's credential grammar: literal text, placeholders (<c>{country}</c>, <c>{city:plus}</c>)
/// and optional segments in brackets that vanish when a value inside them is absent
/// (<c>[-city-{city}]</c>). Parsed once at configuration time; rendering appends to a builder.
/// </summary>
internal sealed class GatewayTemplate
{
    private static readonly Dictionary<string, GatewayField> Fields = new(StringComparer.Ordinal)
    {
        ["country"] = GatewayField.Country,
        ["region"] = GatewayField.Region,
        ["city"] = GatewayField.City,
        ["isp"] = GatewayField.Isp,
        ["asn"] = GatewayField.Asn,
        ["network"] = GatewayField.Network,
        ["session"] = GatewayField.Session,
        ["sessionttl"] = GatewayField.SessionTtl,
        ["account"] = GatewayField.Account,
        ["password"] = GatewayField.Password,
    };

    private static readonly Dictionary<string, GatewayTransform> Transforms = new(StringComparer.Ordinal)
    {
        ["plus"] = GatewayTransform.Plus,
        ["compact"] = GatewayTransform.Compact,
        ["upper"] = GatewayTransform.Upper,
        ["min"] = GatewayTransform.Minutes,
    };

    private readonly Segment[] _segments;

    private GatewayTemplate(Segment[] segments)
    {
        _segments = segments;
        foreach (Segment segment in segments)
        {
            foreach (Item item in segment.Items)
            {
                if (item.Literal is not null)
                {
                    continue;
                }

                Uses |= Bit(item.Field);
                if (!segment.Optional)
                {
                    Requires |= Bit(item.Field);
                }
            }
        }
    }

    /// <summary>Every field that appears (bit per <see cref="GatewayField"/>).</summary>
    public int Uses { get; }

    /// <summary>Fields outside any optional segment: a request without them cannot be rendered.</summary>
    public int Requires { get; }

    public static int Bit(GatewayField field) => 1 << (int)field;

    public static bool TryParse(string text, out GatewayTemplate? template, out string? error)
    {
        template = null;
        var segments = new List<Segment>();
        var items = new List<Item>();
        var literal = new StringBuilder();
        bool optional = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '[':
                    if (optional)
                    {
                        error = $"optional segments do not nest (a second '[' at {i})";
                        return false;
                    }

                    Close(segments, items, literal, optional: false);
                    optional = true;
                    break;
                case ']':
                    if (!optional)
                    {
                        error = $"']' at {i} closes no '['";
                        return false;
                    }

                    Close(segments, items, literal, optional: true);
                    optional = false;
                    break;
                case '{':
                    int end = text.IndexOf('}', i + 1);
                    if (end < 0)
                    {
                        error = $"'{{' at {i} is not closed";
                        return false;
                    }

                    string name = text[(i + 1)..end];
                    string? transformName = null;
                    int colon = name.IndexOf(':', StringComparison.Ordinal);
                    if (colon >= 0)
                    {
                        transformName = name[(colon + 1)..];
                        name = name[..colon];
                    }

                    if (!Fields.TryGetValue(name, out GatewayField field))
                    {
                        error = $"unknown placeholder {{{name}}} (known: {string.Join(", ", Fields.Keys.Select(k => "{" + k + "}"))})";
                        return false;
                    }

                    GatewayTransform transform = GatewayTransform.None;
                    if (transformName is not null && !Transforms.TryGetValue(transformName, out transform))
                    {
                        error = $"unknown transform ':{transformName}' (known: {string.Join(", ", Transforms.Keys)})";
                        return false;
                    }

                    if (transform == GatewayTransform.Minutes && field != GatewayField.SessionTtl)
                    {
                        error = "':min' applies to {sessionttl} only";
                        return false;
                    }

                    if (literal.Length > 0)
                    {
                        items.Add(new Item(literal.ToString(), default, default));
                        literal.Clear();
                    }

                    items.Add(new Item(null, field, transform));
                    i = end;
                    break;
                case '}':
                    error = $"'}}' at {i} opens nothing";
                    return false;
                default:
                    if (char.IsControl(c))
                    {
                        error = "control characters are not allowed";
                        return false;
                    }

                    literal.Append(c);
                    break;
            }
        }

        if (optional)
        {
            error = "a '[' is not closed";
            return false;
        }

        Close(segments, items, literal, optional: false);
        template = new GatewayTemplate([.. segments]);
        error = null;
        return true;
    }

    /// <summary>
    /// Appends the rendered text. False (nothing usable appended) when a field outside the optional
    /// segments has no value; a caller checks <see cref="Requires"/> before choosing the node.
    /// </summary>
    public bool TryRender(in GatewayValues values, StringBuilder output)
    {
        foreach (Segment segment in _segments)
        {
            bool complete = true;
            foreach (Item item in segment.Items)
            {
                if (item.Literal is null && values.Get(item.Field) is null)
                {
                    complete = false;
                    break;
                }
            }

            if (!complete)
            {
                if (segment.Optional)
                {
                    continue;
                }

                return false;
            }

            foreach (Item item in segment.Items)
            {
                if (item.Literal is not null)
                {
                    output.Append(item.Literal);
                }
                else
                {
                    Append(output, values.Get(item.Field)!, item.Transform);
                }
            }
        }

        return true;
    }

    private static void Append(StringBuilder output, string value, GatewayTransform transform)
    {
        switch (transform)
        {
            case GatewayTransform.Plus:
                output.Append(value.Replace('_', '+'));
                break;
            case GatewayTransform.Compact:
                output.Append(value.Replace("_", string.Empty, StringComparison.Ordinal));
                break;
            case GatewayTransform.Upper:
                output.Append(value.ToUpperInvariant());
                break;
            case GatewayTransform.Minutes:
                // Providers that count in minutes get at least our length: round up.
                int seconds = int.Parse(value, CultureInfo.InvariantCulture);
                output.Append(((seconds + 59) / 60).ToString(CultureInfo.InvariantCulture));
                break;
            default:
                output.Append(value);
                break;
        }
    }

    private static void Close(List<Segment> segments, List<Item> items, StringBuilder literal, bool optional)
    {
        if (literal.Length > 0)
        {
            items.Add(new Item(literal.ToString(), default, default));
            literal.Clear();
        }

        if (items.Count > 0)
        {
            segments.Add(new Segment(optional, [.. items]));
            items.Clear();
        }
    }

    private sealed record Segment(bool Optional, Item[] Items);

    private readonly record struct Item(string? Literal, GatewayField Field, GatewayTransform Transform);
}

/// <summary>What a template can say.</summary>
internal enum GatewayField
{
    Country,
    Region,
    City,
    Isp,
    Asn,
    Network,
    Session,
    SessionTtl,
    Account,
    Password,
}

/// <summary>How a value is spelled for the provider: <c>new_york</c> as <c>new+york</c> (plus), <c>newyork</c> (compact), upper case, or seconds as minutes.</summary>
internal enum GatewayTransform
{
    None,
    Plus,
    Compact,
    Upper,
    Minutes,
}

/// <summary>One request's values for a template; null = absent.</summary>
internal readonly record struct GatewayValues(
    string? Country, string? Region, string? City, string? Isp, string? Asn, string? Network,
    string? Session, string? SessionTtl, string? Account, string? Password)
{
    public string? Get(GatewayField field) => field switch
    {
        GatewayField.Country => Country,
        GatewayField.Region => Region,
        GatewayField.City => City,
        GatewayField.Isp => Isp,
        GatewayField.Asn => Asn,
        GatewayField.Network => Network,
        GatewayField.Session => Session,
        GatewayField.SessionTtl => SessionTtl,
        GatewayField.Account => Account,
        _ => Password,
    };
}
