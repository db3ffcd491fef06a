using System.Text;
using Engine.Rules;

namespace Engine.Tests.Rules;

/// <summary>Parse and compare helpers shared by the rule tests.</summary>
internal static class RuleTestText
{
    public static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    public static string Text(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    public static string Text(byte[] username, ValueRange range) => Text(range.Of(username));

    public static bool Parse(string username, out RuleSet rules, out RuleError error) =>
        RuleParser.TryParse(Bytes(username), RulePolicy.AllowAll, out rules, out error);

    /// <summary>Canonical bytes of an accepted username, as text.</summary>
    public static string Canonical(string username, bool includeSession = true)
    {
        byte[] bytes = Bytes(username);
        Assert.True(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out RuleSet rules, out RuleError error), $"{username}: {error.Problem}");
        Span<byte> buffer = stackalloc byte[RuleFormatter.MaxLength];
        int written = RuleFormatter.Format(rules, bytes, buffer, includeSession);
        Assert.True(written >= 0);
        return Text(buffer[..written]);
    }

    /// <summary>Two rule sets say the same thing: equal fields, and equal bytes where ranges point.</summary>
    public static bool SameRules(in RuleSet a, ReadOnlySpan<byte> usernameA, in RuleSet b, ReadOnlySpan<byte> usernameB) =>
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
