using Engine.Rules;

namespace Engine.Fuzz;

/// <summary>
/// <see cref="RuleParser.TryParse"/> over a username. A refusal must carry a problem whose ranges
/// lie inside the username and whose <see cref="RuleError.FormatDetail"/> is one printable line; an
/// acceptance must round-trip through <see cref="RuleFormatter"/> to a fixed point with the same
/// rules, and a narrower policy may refuse but never accept something different.
/// </summary>
internal static class RuleTarget
{
    public const string Name = "rules";

    private const int DetailLength = 256;

    private static readonly RulePolicy Narrow = RulePolicy.Create(["country", "session", "sessionlength"], ["res"]);

    public static void Run(ReadOnlySpan<byte> username)
    {
        bool accepted = Check(username, RulePolicy.AllowAll, out RuleSet rules);
        bool narrowAccepted = Check(username, Narrow, out RuleSet narrowRules);
        InvariantViolationException.ThrowIf(narrowAccepted && !accepted, "a narrow policy accepted what AllowAll refused");
        InvariantViolationException.ThrowIf(narrowAccepted && !SameRules(rules, username, narrowRules, username), "the policy changed the parsed rules");
        if (!accepted)
        {
            return;
        }

        Span<byte> canonical = stackalloc byte[RuleFormatter.MaxLength];
        int written = RuleFormatter.Format(rules, username, canonical, includeSession: true);
        InvariantViolationException.ThrowIf(written <= 0, $"an accepted username has no canonical form within {RuleFormatter.MaxLength} bytes ({written})");
        ReadOnlySpan<byte> formatted = canonical[..written];
        InvariantViolationException.ThrowIf(!RuleParser.TryParse(formatted, RulePolicy.AllowAll, out RuleSet again, out RuleError error), $"the canonical form is refused: {error.Problem}");
        InvariantViolationException.ThrowIf(!SameRules(rules, username, again, formatted), "the canonical form parses to different rules");

        Span<byte> twice = stackalloc byte[RuleFormatter.MaxLength];
        int writtenAgain = RuleFormatter.Format(again, formatted, twice, includeSession: true);
        InvariantViolationException.ThrowIf(!twice[..Math.Max(0, writtenAgain)].SequenceEqual(formatted), "the canonical form is not a fixed point");

        // The session-less fingerprint (locked rules) may be refused on its own (sessionlength needs a session) but must fit.
        InvariantViolationException.ThrowIf(RuleFormatter.Format(rules, username, twice, includeSession: false) < 0, "the session-less form does not fit");
    }

    private static bool Check(ReadOnlySpan<byte> username, RulePolicy policy, out RuleSet rules)
    {
        if (RuleParser.TryParse(username, policy, out rules, out RuleError error))
        {
            InvariantViolationException.ThrowIf(error.Problem != RuleProblem.None, "accepted with a problem");
            return true;
        }

        InvariantViolationException.ThrowIf(error.Problem == RuleProblem.None || !Enum.IsDefined(error.Problem), $"refused with problem {error.Problem}");
        foreach (ValueRange range in (ReadOnlySpan<ValueRange>)[error.Param, error.Value, error.Previous])
        {
            InvariantViolationException.ThrowIf(range.Start < 0 || range.Length < 0 || range.Start + range.Length > username.Length, $"{error.Problem}: a range outside the username");
        }

        Span<byte> detail = stackalloc byte[DetailLength];
        int written = error.FormatDetail(username, detail);
        InvariantViolationException.ThrowIf(written is < 1 or > DetailLength, $"{error.Problem}: detail of {written} bytes");
        foreach (byte b in detail[..written])
        {
            InvariantViolationException.ThrowIf(b is < 0x20 or > 0x7E, $"{error.Problem}: unprintable byte 0x{b:X2} in the detail");
        }

        return false;
    }

    private static bool SameRules(in RuleSet a, ReadOnlySpan<byte> usernameA, in RuleSet b, ReadOnlySpan<byte> usernameB) =>
        a.Present == b.Present
        && a.Country == b.Country
        && a.CountryAny == b.CountryAny
        && a.Region.Of(usernameA).SequenceEqual(b.Region.Of(usernameB))
        && a.City.Of(usernameA).SequenceEqual(b.City.Of(usernameB))
        && a.Isp.Of(usernameA).SequenceEqual(b.Isp.Of(usernameB))
        && a.Session.Of(usernameA).SequenceEqual(b.Session.Of(usernameB))
        && a.Asn == b.Asn
        && a.Network == b.Network
        && a.SessionLengthSeconds == b.SessionLengthSeconds
        && a.IdleTtlSeconds == b.IdleTtlSeconds
        && a.RotateSeconds == b.RotateSeconds
        && a.RotateRequests == b.RotateRequests
        && a.OnError == b.OnError
        && a.Retries == b.Retries
        && a.BindNode == b.BindNode
        && a.PreferLookalike == b.PreferLookalike;
}
