using CsCheck;
using Engine.Errors;
using Engine.Rules;
using static Engine.Tests.Rules.RuleTestText;

namespace Engine.Tests.Rules;

/// <summary>Random inputs: the parser never throws, every outcome is defined, and accepted rules round-trip.</summary>
public class RuleParserPropertyTests
{
    private static readonly ErrorCode[] RuleCodes =
    [
        ErrorCode.ErrMissingParams, ErrorCode.ErrUnknownParam, ErrorCode.ErrInvalidValue, ErrorCode.ErrDuplicateParam,
        ErrorCode.ErrInvalidCombination, ErrorCode.ErrParamNotAllowed,
    ];

    /// <summary>Names and values of the rule language plus near misses, so soups hit every branch.</summary>
    private static readonly string[] Vocabulary =
    [
        "country", "region", "city", "isp", "asn", "network", "session", "sessionid", "sessionlength", "idlettl",
        "bind", "rotate", "onerror", "prefer", "Country", "sessio", "us", "gb", "uk", "xx", "US", "any", "usa",
        "res", "mob", "dc", "node", "lookalike", "timed_60", "timed_0", "requests_10", "requests_1000001", "replace",
        "fail", "retry_3", "retry_11", "600", "0", "86400", "86401", "007", "4294967295", "4294967296", "abc123",
        "new_york", "los", "angeles", "", "a b", "\u00e9", "\t",
    ];

    /// <summary>Valid pairs, one per rule, none of which contradict each other (no bind-node).</summary>
    private static readonly Gen<string>[] ValidPairs =
    [
        Gen.OneOf("country-us", "country-any", "country-gb", "country-jp"),
        Gen.String[Gen.Char["abcxyz019_"], 1, 64].Select(v => "region-" + v),
        Gen.String[Gen.Char["abcxyz019_"], 1, 64].Select(v => "city-" + v),
        Gen.String[Gen.Char["abcxyz019_"], 1, 64].Select(v => "isp-" + v),
        Gen.UInt[1, uint.MaxValue].Select(n => "asn-" + n),
        Gen.OneOf("network-res", "network-mob", "network-dc", "network-any"),
        Gen.Int[1, 86400].Select(n => "sessionlength-" + n),
        Gen.Int[1, 86400].Select(n => "idlettl-" + n),
        Gen.OneOf(Gen.Int[1, 86400].Select(n => "rotate-timed_" + n), Gen.Int[1, 1_000_000].Select(n => "rotate-requests_" + n)),
        Gen.OneOf(Gen.Const("onerror-replace"), Gen.Const("onerror-fail"), Gen.Int[1, 10].Select(n => "onerror-retry_" + n)),
        Gen.Const("prefer-lookalike"),
    ];

    private static readonly Gen<string> SessionPair =
        Gen.OneOf(Gen.String[Gen.Char["abcxyz019_"], 1, 64].Select(v => "session-" + v), Gen.String[Gen.Char["abc_9"], 1, 64].Select(v => "sessionid-" + v));

    /// <summary>A shuffled list of valid pairs that always includes a session (so the session-only rules are legal).</summary>
    private static readonly Gen<string[]> AcceptedPairs =
        ValidPairs.Aggregate(
                SessionPair.Select(session => new[] { session }),
                (list, pair) => list.SelectMany(l => Gen.Bool.SelectMany(take => take ? pair.Select(p => l.Append(p).ToArray()) : Gen.Const(l))))
            .SelectMany(pairs => Gen.Shuffle(pairs));

    [Fact]
    public void TryParse_RandomBytes_NeverThrowsAndGivesADefinedOutcome() =>
        Gen.Byte.Array[0, 300].Sample(bytes => CheckOutcome(bytes), iter: 20_000);

    [Fact]
    public void TryParse_TokenSoup_NeverThrowsAndGivesADefinedOutcome() =>
        Gen.OneOf(Vocabulary).Array[0, 20]
            .Select(tokens => Bytes(string.Join('-', tokens)))
            .Sample(bytes => CheckOutcome(bytes), iter: 20_000, print: bytes => Text(bytes));

    [Fact]
    public void TryParse_AcceptedRules_RoundTripThroughTheCanonicalForm() =>
        AcceptedPairs.Sample(pairs =>
        {
            byte[] username = Bytes(string.Join('-', pairs));
            Assert.True(RuleParser.TryParse(username, RulePolicy.AllowAll, out RuleSet rules, out RuleError error), $"{error.Problem}");

            byte[] canonical = new byte[RuleFormatter.MaxLength];
            int written = RuleFormatter.Format(rules, username, canonical, includeSession: true);
            Assert.True(written > 0);
            byte[] formatted = canonical[..written];

            Assert.True(RuleParser.TryParse(formatted, RulePolicy.AllowAll, out RuleSet again, out error), $"{Text(formatted)}: {error.Problem}");
            Assert.True(SameRules(rules, username, again, formatted), Text(formatted));

            // The canonical form is a fixed point.
            byte[] twice = new byte[RuleFormatter.MaxLength];
            Assert.Equal(written, RuleFormatter.Format(again, formatted, twice, includeSession: true));
            Assert.Equal(formatted, twice[..written]);
        }, iter: 5_000, print: pairs => string.Join('-', pairs));

    [Fact]
    public void Format_TwoPermutations_GiveIdenticalBytes() =>
        AcceptedPairs.SelectMany(pairs => Gen.Shuffle(pairs.ToArray()).Select(other => (pairs, other))).Sample(t =>
        {
            Assert.Equal(Canonical(string.Join('-', t.pairs)), Canonical(string.Join('-', t.other)));
            Assert.Equal(Canonical(string.Join('-', t.pairs), includeSession: false), Canonical(string.Join('-', t.other), includeSession: false));
        }, iter: 2_000, print: t => string.Join('-', t.pairs) + " / " + string.Join('-', t.other));

    private static void CheckOutcome(byte[] bytes)
    {
        bool ok = RuleParser.TryParse(bytes, RulePolicy.AllowAll, out RuleSet rules, out RuleError error);
        if (ok)
        {
            Assert.Equal(ErrorCode.None, error.Code);
            Assert.True(rules.Present != RuleFlags.None);
            return;
        }

        Assert.Contains(error.Code, RuleCodes);
        Assert.NotEqual(RuleProblem.None, error.Problem);
        Assert.True(Enum.IsDefined(error.Problem));
        foreach (ValueRange range in new[] { error.Param, error.Value, error.Previous })
        {
            Assert.InRange(range.Start, 0, bytes.Length);
            Assert.InRange(range.Length, 0, bytes.Length - range.Start);
        }

        Span<byte> detail = stackalloc byte[256];
        int written = error.FormatDetail(bytes, detail);
        Assert.InRange(written, 1, 256);
        foreach (byte b in detail[..written])
        {
            Assert.InRange(b, (byte)0x20, (byte)0x7E);
        }
    }
}
