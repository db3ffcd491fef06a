namespace Engine.Errors;

/// <summary>Engine-wide settings baked into the error templates once, at start-up.</summary>
internal sealed class ErrorWriterOptions
{
    /// <summary>
    /// Where the problem <c>type</c> URLs point by default: the section anchors of docs/errors.md. The host is
    /// a reserved name (RFC 2606 <c>.invalid</c>): an operator who publishes the page sets <see cref="TypeBase"/>.
    /// </summary>
    public const string DefaultTypeBase = "https://proxy.invalid/docs/errors.md#";

    private const int MaxNameLength = 64;
    private const int MaxRealmLength = 128;
    private const int MaxTypeBaseLength = 512;

    /// <summary>Names this hop in <c>Via: 1.1 NAME</c> and <c>Proxy-Status: NAME; …</c> (config <c>Engine:Name</c>).</summary>
    public string EngineName { get; init; } = "engine";

    /// <summary>The realm of <c>Proxy-Authenticate: Basic realm="…"</c> on 407s.</summary>
    public string Realm { get; init; } = "proxy";

    /// <summary>
    /// Base of the problem <c>type</c> URL: <c>{TypeBase}/{code-lowercase}</c>. A base that already ends in
    /// <c>#</c> or <c>/</c> is joined without another slash, so <c>…/errors.md#</c> gives the page's anchors.
    /// </summary>
    public string TypeBase { get; init; } = DefaultTypeBase;

    /// <summary>Every problem with these options, phrased for <c>--check-config</c>; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        foreach (string? problem in (ReadOnlySpan<string?>)[EngineNameProblem(EngineName), RealmProblem(Realm), TypeBaseProblem(TypeBase)])
        {
            if (problem is not null)
            {
                problems.Add(problem);
            }
        }

        return problems;
    }

    /// <summary>
    /// Why <paramref name="name"/> cannot name this hop, or null. The one rule for <c>Engine:Name</c>: the
    /// configuration check applies it too, so a name that passes the check cannot stop the daemon.
    /// </summary>
    public static string? EngineNameProblem(string? name) => IsSfToken(name)
        ? null
        : $"must be 1-{MaxNameLength} characters: a letter, then letters, digits or !#$%&'*+-.^_`|~ (an HTTP token usable in Via and Proxy-Status)";

    /// <summary>Why <paramref name="realm"/> cannot be the Basic realm (config <c>Engine:Errors:Realm</c>), or null.</summary>
    public static string? RealmProblem(string? realm) =>
        !string.IsNullOrEmpty(realm) && realm.Length <= MaxRealmLength && IsPrintableAscii(realm, allowQuoteAndBackslash: false)
            ? null
            : $"must be 1-{MaxRealmLength} printable ASCII characters without '\"' or '\\' (it is sent as Proxy-Authenticate: Basic realm=\"...\")";

    /// <summary>Why <paramref name="typeBase"/> cannot prefix the problem <c>type</c> (config <c>Engine:Errors:TypeBase</c>), or null.</summary>
    public static string? TypeBaseProblem(string? typeBase) =>
        !string.IsNullOrEmpty(typeBase)
        && typeBase.Length <= MaxTypeBaseLength
        && IsPrintableAscii(typeBase, allowQuoteAndBackslash: false)
        && !typeBase.Contains(' ', StringComparison.Ordinal)
        && Uri.TryCreate(typeBase, UriKind.Absolute, out _)
            ? null
            : $"must be an absolute URI of at most {MaxTypeBaseLength} printable ASCII characters without spaces, '\"' or '\\'";

    /// <summary>The <c>type</c> URL of a code.</summary>
    public string TypeUrl(string code)
    {
        string separator = TypeBase.EndsWith('#') || TypeBase.EndsWith('/') ? "" : "/";
        return string.Concat(TypeBase, separator, code.ToLowerInvariant());
    }

    // RFC 9110 §5.6.2 token, restricted to what RFC 8941 §3.3.4 also accepts as an sf-token start (ALPHA).
    private static bool IsSfToken([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxNameLength || !char.IsAsciiLetter(value[0]))
        {
            return false;
        }

        foreach (char c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && !"!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsPrintableAscii(string value, bool allowQuoteAndBackslash)
    {
        foreach (char c in value)
        {
            if (c < 0x20 || c > 0x7E || (!allowQuoteAndBackslash && (c == '"' || c == '\\')))
            {
                return false;
            }
        }

        return true;
    }
}
