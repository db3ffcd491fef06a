using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Engine.Rules;

namespace Engine.Upstream;

/// <summary>
/// A provider gateway (docs/providers.md): one node standing for a provider's pool. It matches
/// the filters its templates can express (placeholders) plus its own static tags, and renders the
/// upstream credentials per request. Sticky sessions get a provider session id derived from
/// (package, session, binding nonce): stable while our session keeps its binding, new when the
/// session rotates or its provider session fails, never shared by two packages.
/// </summary>
internal sealed class Gateway
{
    /// <summary>Separates the node id from the binding nonce in a session's stored node id (ids never contain it).</summary>
    public const char BindingSeparator = '#';

    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

    private readonly GatewayTemplate _username;
    private readonly GatewayTemplate _password;
    private readonly int _uses;
    private readonly int _requires;

    private Gateway(GatewayTemplate username, GatewayTemplate password, string? account, string? secret, int sessionIdLength, int maxSessionSeconds, int failuresToEject, string? preset)
    {
        _username = username;
        _password = password;
        _uses = username.Uses | password.Uses;
        _requires = username.Requires | password.Requires;
        Account = account;
        Secret = secret;
        SessionIdLength = sessionIdLength;
        MaxSessionSeconds = maxSessionSeconds;
        FailuresToEject = failuresToEject;
        Preset = preset;
    }

    public string? Preset { get; }

    public string? Account { get; }

    /// <summary>The provider password; never logged.</summary>
    private string? Secret { get; }

    public int SessionIdLength { get; }

    public int MaxSessionSeconds { get; }

    public int FailuresToEject { get; }

    /// <summary>Rule dimensions the templates carry to the provider.</summary>
    public FilterDimensions Expresses =>
        (Uses(GatewayField.Country) ? FilterDimensions.Country : 0)
        | (Uses(GatewayField.Region) ? FilterDimensions.Region : 0)
        | (Uses(GatewayField.City) ? FilterDimensions.City : 0)
        | (Uses(GatewayField.Isp) ? FilterDimensions.Isp : 0)
        | (Uses(GatewayField.Asn) ? FilterDimensions.Asn : 0)
        | (Uses(GatewayField.Network) ? FilterDimensions.Network : 0)
        | (Uses(GatewayField.Session) ? FilterDimensions.Session : 0);

    /// <summary>Validates and builds; <paramref name="error"/> names the problem for config messages.</summary>
    public static Gateway? Create(GatewayOptions options, out string? error)
    {
        string? usernameText = options.UsernameTemplate;
        string passwordText = options.PasswordTemplate ?? "{password}";
        int sessionIdLength = options.SessionIdLength;
        int maxSession = options.MaxSessionSeconds;
        if (options.Preset is not null)
        {
            if (!GatewayPresets.All.TryGetValue(options.Preset, out GatewayPreset? preset))
            {
                error = $"Preset '{options.Preset}' is not one of {string.Join(", ", GatewayPresets.All.Keys)}";
                return null;
            }

            if (options.Account is null && (preset.UsernameTemplate.Contains("{account}", StringComparison.Ordinal) || preset.PasswordTemplate.Contains("{account}", StringComparison.Ordinal)))
            {
                error = $"Preset '{options.Preset}' needs Account (the id the provider gave you)";
                return null;
            }

            usernameText ??= preset.UsernameTemplate;
            passwordText = options.PasswordTemplate ?? preset.PasswordTemplate;
            sessionIdLength = sessionIdLength > 0 ? sessionIdLength : preset.SessionIdLength;
            maxSession = maxSession > 0 ? maxSession : preset.MaxSessionSeconds;
        }

        if (usernameText is null)
        {
            error = "a gateway needs UsernameTemplate or Preset";
            return null;
        }

        if (!GatewayTemplate.TryParse(usernameText, out GatewayTemplate? username, out error))
        {
            error = "UsernameTemplate: " + error;
            return null;
        }

        if (System.Text.RegularExpressions.Regex.Replace(usernameText, "\\{[^}]*\\}", "").Contains(':', StringComparison.Ordinal)
            || (options.Account?.Contains(':', StringComparison.Ordinal) ?? false))
        {
            error = "UsernameTemplate: ':' cannot appear in a username (Basic credentials split on it)";
            return null;
        }

        if (!GatewayTemplate.TryParse(passwordText, out GatewayTemplate? password, out error))
        {
            error = "PasswordTemplate: " + error;
            return null;
        }

        if (((username!.Uses | password!.Uses) & GatewayTemplate.Bit(GatewayField.Password)) != 0 && options.Password is null)
        {
            error = "Password is required ({password} appears in a template)";
            return null;
        }

        if (((username.Uses | password.Uses) & GatewayTemplate.Bit(GatewayField.Account)) != 0 && options.Account is null)
        {
            error = "Account is required ({account} appears in a template)";
            return null;
        }

        error = null;
        return new Gateway(username, password, options.Account, options.Password,
            sessionIdLength > 0 ? Math.Min(sessionIdLength, 64) : GatewayPresets.DefaultSessionIdLength,
            maxSession > 0 ? maxSession : GatewayPresets.DefaultMaxSessionSeconds,
            options.FailuresToEject > 0 ? options.FailuresToEject : GatewayPresets.DefaultFailuresToEject,
            options.Preset);
    }

    /// <summary>
    /// Whether this gateway can serve <paramref name="filter"/>: each filter is either expressed
    /// by a placeholder or met by the node's own tags; a sticky session needs <c>{session}</c> and
    /// a length the provider keeps; a placeholder outside brackets needs its value.
    /// </summary>
    public bool Matches(in NodeFilter filter, Node node) => Cannot(filter, node) == FilterDimensions.None;

    /// <summary>The filters this gateway cannot serve for <paramref name="filter"/> (none = a candidate).</summary>
    public FilterDimensions Cannot(in NodeFilter filter, Node node)
    {
        FilterDimensions cannot = FilterDimensions.None;
        if (filter.Country != 0 && !Uses(GatewayField.Country) && node.Country != filter.Country)
        {
            cannot |= FilterDimensions.Country;
        }

        if (filter.Region != TagTable.None && !Uses(GatewayField.Region) && node.Region != filter.Region)
        {
            cannot |= FilterDimensions.Region;
        }

        if (filter.City != TagTable.None && !Uses(GatewayField.City) && node.City != filter.City)
        {
            cannot |= FilterDimensions.City;
        }

        if (filter.Isp != TagTable.None && !Uses(GatewayField.Isp) && node.Isp != filter.Isp)
        {
            cannot |= FilterDimensions.Isp;
        }

        if (filter.Asn != 0 && !Uses(GatewayField.Asn) && node.Asn != filter.Asn)
        {
            cannot |= FilterDimensions.Asn;
        }

        bool networkSet = filter.Network is not (RuleNetwork.Unset or RuleNetwork.Any);
        if (networkSet && !Uses(GatewayField.Network) && node.Network != filter.Network)
        {
            cannot |= FilterDimensions.Network;
        }

        // The package's AllowedNetworks: a network the rules name is checked by the rule policy;
        // without one the provider picks, so only a gateway tagged with an allowed network is safe.
        if (filter.AllowedNetworks != 0 && !(networkSet && Uses(GatewayField.Network))
            && (filter.AllowedNetworks & (1 << (int)node.Network)) == 0)
        {
            cannot |= FilterDimensions.Network;
        }

        if (filter.SessionSeconds > 0 && (!Uses(GatewayField.Session) || filter.SessionSeconds > MaxSessionSeconds))
        {
            cannot |= FilterDimensions.Session;
        }

        cannot |= Missing(filter);
        return cannot;
    }

    /// <summary>
    /// The upstream credentials for one attempt. <paramref name="binding"/> is what the session
    /// stored (<c>id#nonce</c>); its nonce is kept unless <paramref name="renew"/> (the provider
    /// session failed) or it names another node, so the provider session id changes exactly when
    /// our session moves.
    /// </summary>
    public UpstreamCredentials Render(Node node, in RuleSet rules, ReadOnlySpan<byte> ruleBytes, string packageId, ReadOnlySpan<byte> sessionId, string? binding, bool renew)
    {
        string? session = null;
        string? ttl = null;
        string? newBinding = null;
        if (!sessionId.IsEmpty)
        {
            string? nonce = renew ? null : NonceOf(node.Id, binding);
            nonce ??= Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            newBinding = node.Id + BindingSeparator + nonce;
            session = ProviderSessionId(packageId, sessionId, nonce, SessionIdLength);
            ttl = SessionSeconds(rules).ToString(CultureInfo.InvariantCulture);
        }

        var values = new GatewayValues(
            rules.Country != 0 && !rules.CountryAny ? new string([(char)(rules.Country >> 8), (char)(rules.Country & 0xFF)]) : null,
            Text(rules.Region.Of(ruleBytes)),
            Text(rules.City.Of(ruleBytes)),
            Text(rules.Isp.Of(ruleBytes)),
            rules.Asn != 0 ? rules.Asn.ToString(CultureInfo.InvariantCulture) : null,
            rules.Network is RuleNetwork.Unset or RuleNetwork.Any ? null : Encoding.ASCII.GetString(NodeTags.NetworkName(rules.Network)),
            session,
            ttl,
            Account,
            Secret);
        var username = new StringBuilder(128);
        var password = new StringBuilder(64);
        if (!_username.TryRender(values, username) || !_password.TryRender(values, password))
        {
            return default;   // Matches() ruled this out before selection
        }

        string user = username.ToString();
        string pass = password.ToString();
        string authorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + pass));
        return new UpstreamCredentials(user, pass, authorization, Encoding.ASCII.GetBytes(authorization), newBinding, session);
    }

    /// <summary>The length the provider should hold the session: until our next rotation, at most the session's length.</summary>
    public static int SessionSeconds(in RuleSet rules) =>
        rules.RotateSeconds > 0 ? Math.Min(rules.RotateSeconds, rules.SessionLengthSeconds) : rules.SessionLengthSeconds;

    /// <summary>
    /// <c>[a-z0-9]</c> of SHA-256(package, session, nonce): what every provider accepts as a session
    /// id, the same on every engine instance sharing the session store, and not the client's own id.
    /// </summary>
    public static string ProviderSessionId(string packageId, ReadOnlySpan<byte> sessionId, string nonce, int length)
    {
        byte[] input = new byte[Encoding.UTF8.GetByteCount(packageId) + 1 + sessionId.Length + 1 + nonce.Length];
        int n = Encoding.UTF8.GetBytes(packageId, input);
        input[n++] = 0;
        sessionId.CopyTo(input.AsSpan(n));
        n += sessionId.Length;
        input[n++] = 0;
        Encoding.ASCII.GetBytes(nonce, input.AsSpan(n));
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        var id = new StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            id.Append(Alphabet[hash[i % hash.Length] % Alphabet.Length]);
        }

        return id.ToString();
    }

    /// <summary>The node id part of a stored binding (<c>soax#3f2a…</c> → <c>soax</c>).</summary>
    public static ReadOnlySpan<char> NodeIdOf(ReadOnlySpan<char> binding)
    {
        int separator = binding.IndexOf(BindingSeparator);
        return separator < 0 ? binding : binding[..separator];
    }

    private static string? NonceOf(string nodeId, string? binding)
    {
        if (binding is null || binding.Length <= nodeId.Length + 1 || !binding.StartsWith(nodeId, StringComparison.Ordinal) || binding[nodeId.Length] != BindingSeparator)
        {
            return null;
        }

        return binding[(nodeId.Length + 1)..];
    }

    private FilterDimensions Missing(in NodeFilter filter)
    {
        FilterDimensions missing = FilterDimensions.None;
        if (Requires(GatewayField.Country) && filter.Country == 0)
        {
            missing |= FilterDimensions.Country;
        }

        if (Requires(GatewayField.Region) && filter.Region == TagTable.None)
        {
            missing |= FilterDimensions.Region;
        }

        if (Requires(GatewayField.City) && filter.City == TagTable.None)
        {
            missing |= FilterDimensions.City;
        }

        if (Requires(GatewayField.Isp) && filter.Isp == TagTable.None)
        {
            missing |= FilterDimensions.Isp;
        }

        if (Requires(GatewayField.Asn) && filter.Asn == 0)
        {
            missing |= FilterDimensions.Asn;
        }

        if (Requires(GatewayField.Network) && filter.Network is RuleNetwork.Unset or RuleNetwork.Any)
        {
            missing |= FilterDimensions.Network;
        }

        if ((Requires(GatewayField.Session) || Requires(GatewayField.SessionTtl)) && filter.SessionSeconds == 0)
        {
            missing |= FilterDimensions.Session;
        }

        return missing;
    }

    private bool Uses(GatewayField field) => (_uses & GatewayTemplate.Bit(field)) != 0;

    private bool Requires(GatewayField field) => (_requires & GatewayTemplate.Bit(field)) != 0;

    private static string? Text(ReadOnlySpan<byte> value) => value.IsEmpty ? null : Encoding.ASCII.GetString(value);
}

/// <summary>
/// Credentials for one attempt through a node: rendered for a gateway, absent (default) for a
/// plain node, which uses its configured ones. <see cref="Binding"/> is what a sticky session
/// stores as its node (<c>id#nonce</c>).
/// </summary>
internal readonly record struct UpstreamCredentials(
    string? Username, string? Password, string? Authorization, byte[]? AuthorizationBytes, string? Binding, string? ProviderSession)
{
    public bool IsRendered => Authorization is not null;
}
