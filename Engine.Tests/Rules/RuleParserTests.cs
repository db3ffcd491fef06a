using Engine.Errors;
using Engine.Rules;
using static Engine.Tests.Rules.RuleTestText;

namespace Engine.Tests.Rules;

public class RuleParserTests
{
    private static readonly string S64 = new('s', 64);
    private static readonly string C64 = new('c', 64);

    /// <summary>Every rule with its edge values → the canonical form (fixed order, alias written as session).</summary>
    public static TheoryData<string, string> Accepted => new()
    {
        { "country-us", "country-us" },
        { "country-gb", "country-gb" },
        { "country-ad", "country-ad" },
        { "country-zw", "country-zw" },
        { "country-any", "country-any" },
        { "region-california", "region-california" },
        { "region-a", "region-a" },
        { "city-new_york", "city-new_york" },
        { "city-" + C64, "city-" + C64 },
        { "city-0", "city-0" },
        { "isp-at_t", "isp-at_t" },
        { "asn-1", "asn-1" },
        { "asn-4294967295", "asn-4294967295" },
        { "network-res", "network-res" },
        { "network-mob", "network-mob" },
        { "network-dc", "network-dc" },
        { "network-any", "network-any" },
        { "session-a", "session-a" },
        { "session-" + S64, "session-" + S64 },
        { "sessionid-abc123", "session-abc123" },
        { "session-x-sessionlength-1", "session-x-sessionlength-1" },
        { "session-x-sessionlength-86400", "session-x-sessionlength-86400" },
        { "session-x-sessionlength-600", "session-x-sessionlength-600" },
        { "session-x-idlettl-1", "session-x-idlettl-1" },
        { "session-x-idlettl-86400", "session-x-idlettl-86400" },
        { "session-x-bind-node", "session-x-bind-node" },
        { "session-x-rotate-timed_1", "session-x-rotate-timed_1" },
        { "session-x-rotate-timed_86400", "session-x-rotate-timed_86400" },
        { "session-x-rotate-requests_1", "session-x-rotate-requests_1" },
        { "session-x-rotate-requests_1000000", "session-x-rotate-requests_1000000" },
        { "onerror-replace", "onerror-replace" },
        { "onerror-fail", "onerror-fail" },
        { "onerror-retry_1", "onerror-retry_1" },
        { "onerror-retry_10", "onerror-retry_10" },
        { "prefer-lookalike", "prefer-lookalike" },
        { "session-x-bind-node-onerror-fail", "session-x-bind-node-onerror-fail" },
        { "session-x-bind-node-onerror-retry_3", "session-x-bind-node-onerror-retry_3" },
        { "country-any-city-paris-region-idf", "country-any-region-idf-city-paris" },
        {
            "prefer-lookalike-onerror-retry_2-rotate-timed_300-idlettl-60-sessionlength-900-sessionid-s1-network-mob-asn-7922-isp-comcast-city-los_angeles-region-ca-country-us",
            "country-us-region-ca-city-los_angeles-isp-comcast-asn-7922-network-mob-session-s1-sessionlength-900-idlettl-60-rotate-timed_300-onerror-retry_2-prefer-lookalike"
        },
    };

    /// <summary>Every mistake: username → code, problem, param as written, value (or "").</summary>
    public static TheoryData<string, string, string, string, string> Rejected => new()
    {
        { "", "ErrMissingParams", "EmptyUsername", "", "" },

        // A hyphen inside a value leaves a stray name (rules.md's example).
        { "city-los-angeles", "ErrUnknownParam", "UnknownName", "angeles", "" },
        { "country-us-city-los-angeles-session-x", "ErrUnknownParam", "UnknownName", "angeles", "" },
        { "foo-bar", "ErrUnknownParam", "UnknownName", "foo", "" },
        { "countryy-us", "ErrUnknownParam", "UnknownName", "countryy", "" },
        { "user-country-us", "ErrUnknownParam", "UnknownName", "user", "" },
        { "Foo-bar", "ErrUnknownParam", "UnknownName", "Foo", "" },

        // Names without values: odd token count, or an empty token.
        { "country", "ErrInvalidValue", "NameWithoutValue", "country", "" },
        { "country-", "ErrInvalidValue", "NameWithoutValue", "country", "" },
        { "country--us", "ErrInvalidValue", "NameWithoutValue", "country", "" },
        { "country-us-session", "ErrInvalidValue", "NameWithoutValue", "session", "" },
        { "-country-us", "ErrInvalidValue", "EmptyName", "", "" },
        { "country-us-", "ErrInvalidValue", "EmptyName", "", "" },
        { "-", "ErrInvalidValue", "EmptyName", "", "" },

        // Upper case: in a name (ERR_INVALID_VALUE, see RuleParser.NameError) and in a value.
        { "Country-us", "ErrInvalidValue", "UppercaseName", "Country", "us" },
        { "COUNTRY-us", "ErrInvalidValue", "UppercaseName", "COUNTRY", "us" },
        { "country-us-City", "ErrInvalidValue", "UppercaseName", "City", "" },
        { "country-US", "ErrInvalidValue", "UppercaseValue", "country", "US" },
        { "city-Paris", "ErrInvalidValue", "UppercaseValue", "city", "Paris" },
        { "network-RES", "ErrInvalidValue", "UppercaseValue", "network", "RES" },
        { "session-x-bind-NODE", "ErrInvalidValue", "UppercaseValue", "bind", "NODE" },

        // Countries.
        { "country-xx", "ErrInvalidValue", "UnknownCountry", "country", "xx" },
        { "country-uk", "ErrInvalidValue", "CountryUkIsGb", "country", "uk" },
        { "country-eu", "ErrInvalidValue", "UnknownCountry", "country", "eu" },
        { "country-xk", "ErrInvalidValue", "UnknownCountry", "country", "xk" },
        { "country-u1", "ErrInvalidValue", "UnknownCountry", "country", "u1" },
        { "country-usa", "ErrInvalidValue", "NotCountryCode", "country", "usa" },
        { "country-u", "ErrInvalidValue", "NotCountryCode", "country", "u" },
        { "country-u.s", "ErrInvalidValue", "BadCharacters", "country", "u.s" },

        // Text values.
        { "city-new york", "ErrInvalidValue", "BadCharacters", "city", "new york" },
        { "city-s\u00e3o_paulo", "ErrInvalidValue", "BadCharacters", "city", "s\u00e3o_paulo" },
        { "isp-at&t", "ErrInvalidValue", "BadCharacters", "isp", "at&t" },
        { "region-a.b", "ErrInvalidValue", "BadCharacters", "region", "a.b" },
        { "city-" + C64 + "c", "ErrInvalidValue", "ValueTooLong", "city", C64 + "c" },
        { "session-" + S64 + "s", "ErrInvalidValue", "SessionIdTooLong", "session", S64 + "s" },
        { "sessionid-" + S64 + "s", "ErrInvalidValue", "SessionIdTooLong", "sessionid", S64 + "s" },
        { "session-a.b", "ErrInvalidValue", "BadCharacters", "session", "a.b" },

        // Numbers.
        { "asn-0", "ErrInvalidValue", "OutOfRange", "asn", "0" },
        { "asn-4294967296", "ErrInvalidValue", "OutOfRange", "asn", "4294967296" },
        { "asn-99999999999999999999", "ErrInvalidValue", "OutOfRange", "asn", "99999999999999999999" },
        { "asn-07922", "ErrInvalidValue", "LeadingZero", "asn", "07922" },
        { "asn-00", "ErrInvalidValue", "LeadingZero", "asn", "00" },
        { "asn-+7922", "ErrInvalidValue", "BadNumber", "asn", "+7922" },
        { "asn-as7922", "ErrInvalidValue", "BadNumber", "asn", "as7922" },
        { "asn-1_000", "ErrInvalidValue", "BadNumber", "asn", "1_000" },
        { "session-x-sessionlength-0", "ErrInvalidValue", "OutOfRange", "sessionlength", "0" },
        { "session-x-sessionlength-86401", "ErrInvalidValue", "OutOfRange", "sessionlength", "86401" },
        { "session-x-sessionlength-10m", "ErrInvalidValue", "BadNumber", "sessionlength", "10m" },
        { "session-x-idlettl-0", "ErrInvalidValue", "OutOfRange", "idlettl", "0" },
        { "session-x-idlettl-86401", "ErrInvalidValue", "OutOfRange", "idlettl", "86401" },
        { "session-x-rotate-timed_0", "ErrInvalidValue", "OutOfRange", "rotate", "timed_0" },
        { "session-x-rotate-timed_86401", "ErrInvalidValue", "OutOfRange", "rotate", "timed_86401" },
        { "session-x-rotate-timed_", "ErrInvalidValue", "BadNumber", "rotate", "timed_" },
        { "session-x-rotate-timed_060", "ErrInvalidValue", "LeadingZero", "rotate", "timed_060" },
        { "session-x-rotate-requests_0", "ErrInvalidValue", "OutOfRange", "rotate", "requests_0" },
        { "session-x-rotate-requests_1000001", "ErrInvalidValue", "OutOfRange", "rotate", "requests_1000001" },
        { "onerror-retry_0", "ErrInvalidValue", "OutOfRange", "onerror", "retry_0" },
        { "onerror-retry_11", "ErrInvalidValue", "OutOfRange", "onerror", "retry_11" },
        { "onerror-retry_x", "ErrInvalidValue", "BadNumber", "onerror", "retry_x" },

        // Fixed choices.
        { "network-wifi", "ErrInvalidValue", "UnknownNetwork", "network", "wifi" },
        { "network-residential", "ErrInvalidValue", "UnknownNetwork", "network", "residential" },
        { "session-x-bind-nodes", "ErrInvalidValue", "UnknownOption", "bind", "nodes" },
        { "prefer-similar", "ErrInvalidValue", "UnknownOption", "prefer", "similar" },
        { "session-x-rotate-timed", "ErrInvalidValue", "UnknownOption", "rotate", "timed" },
        { "session-x-rotate-hourly", "ErrInvalidValue", "UnknownOption", "rotate", "hourly" },
        { "onerror-retry", "ErrInvalidValue", "UnknownOption", "onerror", "retry" },
        { "onerror-ignore", "ErrInvalidValue", "UnknownOption", "onerror", "ignore" },

        // Repeated names; onerror is one rule whatever its mode, rotate's two modes contradict each other (below).
        { "country-us-country-de", "ErrDuplicateParam", "Duplicate", "country", "de" },
        { "country-us-country-us", "ErrDuplicateParam", "Duplicate", "country", "us" },
        { "city-a-country-us-city-b", "ErrDuplicateParam", "Duplicate", "city", "b" },
        { "session-a-session-b", "ErrDuplicateParam", "Duplicate", "session", "b" },
        { "session-a-sessionid-b", "ErrDuplicateParam", "AliasDuplicate", "sessionid", "b" },
        { "sessionid-a-session-b", "ErrDuplicateParam", "AliasDuplicate", "session", "b" },
        { "session-x-rotate-timed_60-rotate-timed_30", "ErrDuplicateParam", "Duplicate", "rotate", "timed_30" },
        { "onerror-fail-onerror-retry_3", "ErrDuplicateParam", "Duplicate", "onerror", "retry_3" },
        { "session-x-bind-node-bind-node", "ErrDuplicateParam", "Duplicate", "bind", "node" },
        { "prefer-lookalike-prefer-lookalike", "ErrDuplicateParam", "Duplicate", "prefer", "lookalike" },

        // Combinations (checked after the whole username, so order does not matter).
        { "session-x-bind-node-rotate-timed_60", "ErrInvalidCombination", "BindWithRotate", "rotate", "timed_60" },
        // rules.md: rotate-timed_N with rotate-requests_N is a contradiction, in either order.
        { "session-x-rotate-timed_60-rotate-requests_10", "ErrInvalidCombination", "RotateTimedWithRequests", "rotate", "requests_10" },
        { "rotate-requests_10-session-x-rotate-timed_60", "ErrInvalidCombination", "RotateTimedWithRequests", "rotate", "timed_60" },
        { "session-x-rotate-requests_10-rotate-requests_20", "ErrDuplicateParam", "Duplicate", "rotate", "requests_20" },
        { "rotate-requests_5-bind-node-session-x", "ErrInvalidCombination", "BindWithRotate", "rotate", "requests_5" },
        { "session-x-bind-node-onerror-replace", "ErrInvalidCombination", "BindWithOnErrorReplace", "onerror", "replace" },
        { "session-x-bind-node-prefer-lookalike", "ErrInvalidCombination", "BindWithPreferLookalike", "prefer", "lookalike" },
        { "bind-node", "ErrInvalidCombination", "BindWithoutSession", "bind", "node" },
        { "country-us-sessionlength-600", "ErrInvalidCombination", "SessionLengthWithoutSession", "sessionlength", "600" },
        { "idlettl-60", "ErrInvalidCombination", "IdleTtlWithoutSession", "idlettl", "60" },
        { "rotate-timed_60", "ErrInvalidCombination", "RotateWithoutSession", "rotate", "timed_60" },
        { "rotate-requests_60", "ErrInvalidCombination", "RotateWithoutSession", "rotate", "requests_60" },
    };

    /// <summary>Package policy: username, AllowedRules (comma list, "*" = null), AllowedNetworks (same) → code, problem, param.</summary>
    public static TheoryData<string, string, string, string, string, string> PolicyCases => new()
    {
        { "country-us", "country", "*", "None", "None", "" },
        { "country-us-asn-7922", "country", "*", "ErrParamNotAllowed", "RuleNotAllowed", "asn" },
        { "sessionid-x", "session", "*", "None", "None", "" },
        { "session-x", "sessionid", "*", "None", "None", "" },
        { "session-x-bind-node", "session", "*", "ErrParamNotAllowed", "RuleNotAllowed", "bind" },
        { "session-x-rotate-timed_5", "session,rotate", "*", "None", "None", "" },
        { "session-x-rotate-requests_5", "session,rotate-timed", "*", "ErrParamNotAllowed", "RuleNotAllowed", "rotate" },
        { "onerror-fail", "country", "*", "ErrParamNotAllowed", "RuleNotAllowed", "onerror" },
        { "prefer-lookalike", "prefer", "*", "None", "None", "" },
        { "network-res", "*", "res", "None", "None", "" },
        { "network-mob", "*", "res,dc", "ErrParamNotAllowed", "NetworkNotAllowed", "network" },
        { "network-dc", "*", "", "ErrParamNotAllowed", "NetworkNotAllowed", "network" },
        { "network-any", "*", "res", "None", "None", "" },
        { "network-mob", "country", "mob", "ErrParamNotAllowed", "RuleNotAllowed", "network" },
        { "country-us", "", "*", "ErrParamNotAllowed", "RuleNotAllowed", "country" },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void TryParse_ValidRules_AcceptsAndFormatsCanonically(string username, string canonical)
    {
        Assert.True(Parse(username, out _, out RuleError error), $"{error.Code} {error.Problem}");
        Assert.Equal(ErrorCode.None, error.Code);
        Assert.Equal(canonical, Canonical(username));
    }

    [Theory]
    [MemberData(nameof(Rejected))]
    public void TryParse_InvalidRules_ReportsCodeProblemAndParam(string username, string code, string problem, string param, string value)
    {
        byte[] bytes = Bytes(username);
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        Assert.Equal(Enum.Parse<ErrorCode>(code), error.Code);
        Assert.Equal(Enum.Parse<RuleProblem>(problem), error.Problem);
        Assert.Equal(param, Text(bytes, error.Param));
        Assert.Equal(value, Text(bytes, error.Value));
    }

    [Theory]
    [MemberData(nameof(PolicyCases))]
    public void TryParse_PackagePolicy_AllowsOrRefuses(string username, string rules, string networks, string code, string problem, string param)
    {
        RulePolicy policy = RulePolicy.Create(List(rules), List(networks));
        byte[] bytes = Bytes(username);
        bool ok = RuleParser.TryParse(bytes, policy, out _, out RuleError error);
        Assert.Equal(code == "None", ok);
        Assert.Equal(Enum.Parse<ErrorCode>(code), error.Code);
        Assert.Equal(Enum.Parse<RuleProblem>(problem), error.Problem);
        Assert.Equal(param, Text(bytes, error.Param));

        static string[]? List(string csv) => csv == "*" ? null : csv.Split(',', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void TryParse_CityLosAngeles_PointsPreviousAtTheSplitPair()
    {
        byte[] bytes = Bytes("country-us-city-los-angeles");
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        Assert.Equal("angeles", Text(bytes, error.Param));
        Assert.Equal("city-los", Text(bytes, error.Previous));
    }

    [Fact]
    public void TryParse_Duplicate_PointsPreviousAtTheFirstOccurrence()
    {
        byte[] bytes = Bytes("session-a-country-us-sessionid-b");
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        Assert.Equal(RuleProblem.AliasDuplicate, error.Problem);
        Assert.Equal("session-a", Text(bytes, error.Previous));
    }

    [Fact]
    public void TryParse_BindWithRotate_PointsPreviousAtBindNode()
    {
        byte[] bytes = Bytes("session-x-bind-node-rotate-timed_60");
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        Assert.Equal("bind-node", Text(bytes, error.Previous));
    }

    [Fact]
    public void TryParse_AllRules_FillsEveryField()
    {
        byte[] bytes = Bytes("country-us-region-ca-city-los_angeles-isp-comcast-asn-7922-network-mob-sessionid-s1-sessionlength-900-idlettl-60-rotate-requests_50-onerror-retry_2-prefer-lookalike");
        Assert.True(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out RuleSet rules, out _));
        Assert.Equal(('u' << 8) | 's', rules.Country);
        Assert.False(rules.CountryAny);
        Assert.Equal("ca", Text(bytes, rules.Region));
        Assert.Equal("los_angeles", Text(bytes, rules.City));
        Assert.Equal("comcast", Text(bytes, rules.Isp));
        Assert.Equal("s1", Text(bytes, rules.Session));
        Assert.Equal(7922u, rules.Asn);
        Assert.Equal(RuleNetwork.Mob, rules.Network);
        Assert.Equal(900, rules.SessionLengthSeconds);
        Assert.Equal(60, rules.IdleTtlSeconds);
        Assert.Equal(0, rules.RotateSeconds);
        Assert.Equal(50, rules.RotateRequests);
        Assert.Equal(OnErrorMode.Retry, rules.OnError);
        Assert.Equal(2, rules.Retries);
        Assert.False(rules.BindNode);
        Assert.True(rules.PreferLookalike);
        Assert.Equal((RuleFlags)0x3FFF & ~(RuleFlags.BindNode | RuleFlags.RotateTimed), rules.Present);
    }

    [Fact]
    public void TryParse_OnlyCountryAny_LeavesDefaults()
    {
        Assert.True(Parse("country-any", out RuleSet rules, out _));
        Assert.Equal(RuleFlags.Country, rules.Present);
        Assert.True(rules.CountryAny);
        Assert.Equal(0, rules.Country);
        Assert.Equal(600, rules.SessionLengthSeconds);
        Assert.Equal(RuleNetwork.Unset, rules.Network);
        Assert.Equal(OnErrorMode.Replace, rules.OnError);
        Assert.Equal(0, rules.Retries);
        Assert.Equal(0u, rules.Asn);
        Assert.True(rules.Session.IsEmpty);
    }

    [Fact]
    public void TryParse_BindNodeWithSession_SetsBindNode()
    {
        Assert.True(Parse("session-x-bind-node", out RuleSet rules, out _));
        Assert.True(rules.BindNode);
        Assert.Equal(OnErrorMode.Replace, rules.OnError);
    }

    [Fact]
    public void TryParse_LongInput_StopsAtTheFirstMistakeWithoutThrowing()
    {
        byte[] bytes = Bytes(string.Concat(Enumerable.Repeat("country-us-", 100_000)));
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        Assert.Equal(RuleProblem.Duplicate, error.Problem);

        bytes = Bytes(new string('a', 1_000_000));
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out error));
        Assert.Equal(RuleProblem.UnknownName, error.Problem);
    }

    [Fact]
    public void RulePolicy_UnknownNames_Throw()
    {
        Assert.Throws<ArgumentException>(() => RulePolicy.Create(["cuntry"], null));
        Assert.Throws<ArgumentException>(() => RulePolicy.Create(null, ["wifi"]));
        Assert.Same(RulePolicy.AllowAll, RulePolicy.Create(null, null));
    }

    [Fact]
    public void RulePolicy_KnownRulesOfTheConfigReader_AllMap()
    {
        RulePolicy policy = RulePolicy.Create(Engine.Hosting.EngineConfigReader.KnownRules, Engine.Hosting.EngineConfigReader.KnownNetworks);
        Assert.Equal(RulePolicy.AllowAll.AllowedRules, policy.AllowedRules);
        foreach (RuleNetwork network in Enum.GetValues<RuleNetwork>())
        {
            Assert.True(policy.IsNetworkAllowed(network));
        }
    }
}
