namespace Engine.Upstream;

/// <summary>
/// Provider grammars verified against the providers' own documentation (links in
/// docs/providers.md). A preset is a username template, a password template and the provider's
/// limits on session ids and lengths; <c>{account}</c> is the customer's id at that provider.
/// Decodo/Smartproxy is not here: its documentation as found confirms <c>session</c> and
/// <c>sessionduration</c> but not the whole username grammar.
/// </summary>
internal static class GatewayPresets
{
    /// <summary>A gateway is many exits: one failing session is not the gateway failing (docs/providers.md "Health").</summary>
    public const int DefaultFailuresToEject = 10;

    public const int DefaultSessionIdLength = 12;

    public const int DefaultMaxSessionSeconds = 86_400;

    public static IReadOnlyDictionary<string, GatewayPreset> All { get; } = new Dictionary<string, GatewayPreset>(StringComparer.Ordinal)
    {
        // helpcenter.soax.com 6723733 (sticky sessions) and 7035059: package-{id}-country-us-sessionid-{id}-sessionlength-{0..86400 s};
        // city and region spelled with '+' for spaces (new+york); isp by name.
        ["soax"] = new(
            "package-{account}[-country-{country}][-region-{region:plus}][-city-{city:plus}][-isp-{isp:plus}][-sessionid-{session}-sessionlength-{sessionttl}]",
            "{password}", SessionIdLength: 12, MaxSessionSeconds: 86_400),

        // docs.brightdata.com/api-reference/proxy/geolocation-targeting and .../rotate_ips:
        // brd-customer-{id}-zone-{zone}[-country-us][-state-ny][-city-sanfrancisco][-asn-N][-session-{alnum}].
        // {account} is "{customer_id}-zone-{zone_name}". No documented session length parameter.
        ["brightdata"] = new(
            "brd-customer-{account}[-country-{country}][-state-{region}][-city-{city:compact}][-asn-{asn}][-session-{session}]",
            "{password}", SessionIdLength: 12, MaxSessionSeconds: 86_400),

        // developers.oxylabs.io residential-proxies/making-requests and session-control:
        // customer-{user}[-cc-DE][-city-london][-sessid-{alnum}-sesstime-{minutes}]; sesstime at most 30 min
        // (the English page; a newer translation says 1440: the smaller bound is kept).
        ["oxylabs"] = new(
            "customer-{account}[-cc-{country}][-city-{city}][-sessid-{session}-sesstime-{sessionttl:min}]",
            "{password}", SessionIdLength: 12, MaxSessionSeconds: 1_800),

        // docs.iproyal.com/proxies/residential/proxy/location and .../rotation: targeting goes in the
        // password, password_country-br_session-{8 alnum}_lifetime-10m (one unit, 1 s .. 7 d).
        ["iproyal"] = new(
            "{account}",
            "{password}[_country-{country}][_city-{city}][_session-{session}_lifetime-{sessionttl}s]", SessionIdLength: 8, MaxSessionSeconds: 604_800),
    };
}

internal sealed record GatewayPreset(string UsernameTemplate, string PasswordTemplate, int SessionIdLength, int MaxSessionSeconds);
