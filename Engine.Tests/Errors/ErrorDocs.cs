using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Engine.Errors;

namespace Engine.Tests.Errors;

/// <summary>
/// The generated parts of docs/errors.md: tables from the catalog and example responses from the real writer,
/// between <c>&lt;!-- BEGIN GENERATED: key --&gt;</c> and <c>&lt;!-- END GENERATED: key --&gt;</c> markers.
/// Everything outside the markers (causes, fixes) is written by hand.
/// </summary>
internal static partial class ErrorDocs
{
    public const string RelativePath = "docs/errors.md";

    public static string Anchor(ErrorCode code) => ErrorCatalog.Get(code).Name.ToLowerInvariant();

    /// <summary>The markdown with every generated region rewritten; unknown keys are an error.</summary>
    public static string Regenerate(string markdown)
    {
        var writer = new ErrorWriter(ErrorExample.DefaultOptions);
        return Region().Replace(markdown, match =>
        {
            string key = match.Groups["key"].Value;
            return $"<!-- BEGIN GENERATED: {key} -->\n{Generate(key, writer)}<!-- END GENERATED: {key} -->";
        });
    }

    public static IEnumerable<string> RegionKeys(string markdown) =>
        Region().Matches(markdown).Select(m => m.Groups["key"].Value);

    private static string Generate(string key, ErrorWriter writer)
    {
        int colon = key.IndexOf(':', StringComparison.Ordinal);
        string kind = colon < 0 ? key : key[..colon];
        string argument = colon < 0 ? "" : key[(colon + 1)..];
        return kind switch
        {
            "catalog" => CatalogTable(),
            "proxy-status" => ProxyStatusTable(),
            "socks5" => Socks5Table(),
            "meta" => Meta(Parse(argument)),
            "example" => Example(Parse(argument), writer),
            _ => throw new InvalidOperationException($"Unknown generated region '{key}' in {RelativePath}."),
        };
    }

    private static ErrorCode Parse(string name) =>
        ErrorExample.Codes.Single(c => ErrorCatalog.Get(c).Name == name);

    private static IEnumerable<ErrorDescriptor> Rows => ErrorExample.Codes.Select(ErrorCatalog.Get);

    private static string CatalogTable()
    {
        var sb = new StringBuilder();
        sb.Append("| Status | Code | What it means | Retry |\n| --- | --- | --- | --- |\n");
        foreach (ErrorDescriptor row in Rows)
        {
            string status = row.LogOnly ? "(none)" : row.Status.ToString(CultureInfo.InvariantCulture);
            sb.Append(CultureInfo.InvariantCulture, $"| {status} | [`{row.Name}`](#{Anchor(row.Code)}) | {row.DefaultDetail} | `{WireNames.Of(row.Retry)}` |\n");
        }

        return sb.ToString();
    }

    private static string ProxyStatusTable()
    {
        var sb = new StringBuilder();
        sb.Append("| Code | Status | `Proxy-Status` error type |\n| --- | --- | --- |\n");
        foreach (ErrorDescriptor row in Rows)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| [`{row.Name}`](#{Anchor(row.Code)}) | {row.Status} | `{WireNames.Of(row.ProxyStatus)}` |\n");
        }

        return sb.ToString();
    }

    private static string Socks5Table()
    {
        var sb = new StringBuilder();
        sb.Append("| Code | Found at | Answer |\n| --- | --- | --- |\n");
        foreach (ErrorDescriptor row in Rows)
        {
            (string stage, string answer) = row switch
            {
                { LogOnly: true } => ("-", "none (the client is gone)"),
                { Code: ErrorCode.ErrAuthRequired } => ("greeting (no username/password method offered)", "method `0xFF` (no acceptable methods), then close"),
                { Socks5AuthFailure: true } => ("authentication (RFC 1929)", "status `0x01` (failure), then close"),
                _ => ("request (RFC 1928)", $"REP `0x{(byte)row.Socks5Reply:x2}` {Socks5Name(row.Socks5Reply)}"),
            };
            sb.Append(CultureInfo.InvariantCulture, $"| [`{row.Name}`](#{Anchor(row.Code)}) | {stage} | {answer} |\n");
        }

        return sb.ToString();
    }

    private static string Socks5Name(Socks5Reply reply) => reply switch
    {
        Socks5Reply.GeneralFailure => "general failure",
        Socks5Reply.NotAllowedByRuleset => "not allowed by ruleset",
        Socks5Reply.NetworkUnreachable => "network unreachable",
        Socks5Reply.HostUnreachable => "host unreachable",
        Socks5Reply.ConnectionRefused => "connection refused",
        Socks5Reply.TtlExpired => "TTL expired",
        Socks5Reply.CommandNotSupported => "command not supported",
        Socks5Reply.AddressTypeNotSupported => "address type not supported",
        _ => reply.ToString(),
    };

    private static string Meta(ErrorCode code)
    {
        ErrorDescriptor row = ErrorCatalog.Get(code);
        string status = row.LogOnly ? "none (never sent)" : $"`{row.Status} {row.ReasonPhrase}`";
        string retryAfter = row.DefaultRetryAfterSeconds > 0 ? $"always ({row.DefaultRetryAfterSeconds} s unless the limit knows its own wait)"
            : row.Code == ErrorCode.TrafficLimitExceeded ? "only when the cap has a period (`TrafficPeriod`)"
            : "not sent";
        return $"**Status** {status} · **Retry class** `{WireNames.Of(row.Retry)}` · **Category** {row.Category} · "
            + $"**Proxy-Status** `{WireNames.Of(row.ProxyStatus)}` · **Retry-After** {retryAfter}\n";
    }

    private static string Example(ErrorCode code, ErrorWriter writer)
    {
        if (ErrorCatalog.Get(code).LogOnly)
        {
            return "_No response is sent: the client has already gone. The access-log line carries `WRITE_ERROR` and the correlation id._\n";
        }

        byte[] raw = ErrorExample.For(code).Render(writer);
        string text = Encoding.UTF8.GetString(raw).Replace("\r\n", "\n", StringComparison.Ordinal);
        return $"```http\n{text}\n```\n";
    }

    [GeneratedRegex(@"<!-- BEGIN GENERATED: (?<key>[a-z0-9_:\-A-Z]+) -->\n.*?<!-- END GENERATED: \k<key> -->", RegexOptions.Singleline)]
    private static partial Regex Region();
}
