namespace Engine.Rules;

/// <summary>
/// What a package permits (<c>PackageOptions.AllowedRules</c> / <c>AllowedNetworks</c>), built once per
/// configuration load so the parser checks a flag, not a list of strings.
/// </summary>
internal sealed class RulePolicy
{
    private const RuleFlags AllRules = (RuleFlags)0x3FFF;

    // Bit per RuleNetwork member. Unset and Any are always allowed: `any` asks for no particular network,
    // and node selection still keeps to the package's networks.
    private const byte AlwaysAllowedNetworks = (1 << (int)RuleNetwork.Unset) | (1 << (int)RuleNetwork.Any);
    private const byte AllNetworks = AlwaysAllowedNetworks | (1 << (int)RuleNetwork.Res) | (1 << (int)RuleNetwork.Mob) | (1 << (int)RuleNetwork.Dc);

    private readonly byte _networks;

    private RulePolicy(RuleFlags allowedRules, byte networks)
    {
        AllowedRules = allowedRules;
        _networks = networks;
    }

    public static RulePolicy AllowAll { get; } = new(AllRules, AllNetworks);

    public RuleFlags AllowedRules { get; }

    /// <summary>
    /// Rule names as <c>AllowedRules</c> lists them (EngineConfigReader.KnownRules: <c>bind</c>, <c>rotate</c>, ...;
    /// the written forms <c>bind-node</c>, <c>rotate-timed</c>, ... are accepted too). <c>session</c> and
    /// <c>sessionid</c> name the same rule, so either allows both spellings. null = everything.
    /// </summary>
    /// <exception cref="ArgumentException">A name that is not a rule or not a network (configuration time only).</exception>
    public static RulePolicy Create(IReadOnlyList<string>? allowedRules, IReadOnlyList<string>? allowedNetworks)
    {
        if (allowedRules is null && allowedNetworks is null)
        {
            return AllowAll;
        }

        RuleFlags rules = AllRules;
        if (allowedRules is not null)
        {
            rules = RuleFlags.None;
            foreach (string name in allowedRules)
            {
                rules |= FlagOf(name);
            }
        }

        byte networks = AllNetworks;
        if (allowedNetworks is not null)
        {
            networks = AlwaysAllowedNetworks;
            foreach (string name in allowedNetworks)
            {
                RuleNetwork network = name switch
                {
                    "res" => RuleNetwork.Res,
                    "mob" => RuleNetwork.Mob,
                    "dc" => RuleNetwork.Dc,
                    _ => throw new ArgumentException($"'{name}' is not a network (res, mob, dc)", nameof(allowedNetworks)),
                };
                networks |= (byte)(1 << (int)network);
            }
        }

        return new RulePolicy(rules, networks);
    }

    public bool IsNetworkAllowed(RuleNetwork network) => (_networks & (1 << (int)network)) != 0;

    private static RuleFlags FlagOf(string name) => name switch
    {
        "country" => RuleFlags.Country,
        "region" => RuleFlags.Region,
        "city" => RuleFlags.City,
        "isp" => RuleFlags.Isp,
        "asn" => RuleFlags.Asn,
        "network" => RuleFlags.Network,
        "session" or "sessionid" => RuleFlags.Session,
        "sessionlength" => RuleFlags.SessionLength,
        "idlettl" => RuleFlags.IdleTtl,
        "bind" or "bind-node" => RuleFlags.BindNode,
        "rotate" => RuleFlags.RotateTimed | RuleFlags.RotateRequests,
        "rotate-timed" => RuleFlags.RotateTimed,
        "rotate-requests" => RuleFlags.RotateRequests,
        "onerror" => RuleFlags.OnError,
        "prefer" or "prefer-lookalike" => RuleFlags.PreferLookalike,
        _ => throw new ArgumentException($"'{name}' is not a rule name (rules.md)", nameof(name)),
    };
}
