namespace Engine.Rules;

/// <summary>The parsed rules: a plain struct, no references. Text values are ranges into the username.</summary>
internal struct RuleSet
{
    /// <summary>rules.md: a session lives 600 s unless <c>sessionlength-N</c> says otherwise.</summary>
    public const int DefaultSessionLengthSeconds = 600;

    public RuleFlags Present;

    /// <summary>Two lowercase ASCII letters packed as <c>(c0 &lt;&lt; 8) | c1</c>; 0 = unset or <c>any</c>.</summary>
    public ushort Country;

    /// <summary><c>country-any</c> given.</summary>
    public bool CountryAny;

    public ValueRange Region;
    public ValueRange City;
    public ValueRange Isp;

    /// <summary>Also set by the <c>sessionid-X</c> alias.</summary>
    public ValueRange Session;

    /// <summary>0 = unset.</summary>
    public uint Asn;

    public RuleNetwork Network;
    public int SessionLengthSeconds;

    /// <summary>0 = not given.</summary>
    public int IdleTtlSeconds;

    /// <summary>0 = not given.</summary>
    public int RotateSeconds;

    /// <summary>0 = not given.</summary>
    public int RotateRequests;

    public OnErrorMode OnError;

    /// <summary>N of <c>onerror-retry_N</c>, else 0.</summary>
    public int Retries;

    public bool BindNode;
    public bool PreferLookalike;

    /// <summary>No rule given: every field at its rules.md default.</summary>
    public static RuleSet Default => new() { SessionLengthSeconds = DefaultSessionLengthSeconds };
}
