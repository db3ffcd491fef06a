using System.Text;
using BenchmarkDotNet.Attributes;
using Engine.Rules;

namespace Engine.Benchmarks.Rules;

/// <summary>
/// Targeting-rule parsing on realistic usernames. Baseline: counting the hyphens, the floor any parser that
/// splits the username into tokens pays.
/// </summary>
[MemoryDiagnoser]
public class RuleParserBenchmarks
{
    private static readonly byte[] CountryOnly = Encoding.ASCII.GetBytes("country-us");

    private static readonly byte[] LongSession = Encoding.ASCII.GetBytes(
        "country-us-city-new_york-session-a1b2c3d4e5f6-sessionlength-1800-rotate-timed_300-onerror-retry_3");

    // The usual mistake (rules.md): a hyphen inside a value; the detail is written as the error path would.
    private static readonly byte[] HyphenInValue = Encoding.ASCII.GetBytes("country-us-city-los-angeles-session-abc123");

    private readonly RulePolicy _policy = RulePolicy.Create(["country", "city", "session", "sessionlength", "rotate", "onerror"], null);
    private readonly byte[] _buffer = new byte[RuleFormatter.MaxLength];

    [Benchmark(Baseline = true)]
    public int CountHyphens() => LongSession.AsSpan().Count((byte)'-');

    [Benchmark]
    public bool ParseCountry() => RuleParser.TryParse(CountryOnly, _policy, out _, out _);

    [Benchmark]
    public bool ParseLongSession() => RuleParser.TryParse(LongSession, _policy, out _, out _);

    [Benchmark]
    public int ParseLongSessionAndFingerprint()
    {
        RuleParser.TryParse(LongSession, _policy, out RuleSet rules, out _);
        return RuleFormatter.Format(rules, LongSession, _buffer, includeSession: false);
    }

    [Benchmark]
    public int ParseErrorWithDetail()
    {
        RuleParser.TryParse(HyphenInValue, _policy, out _, out RuleError error);
        return error.FormatDetail(HyphenInValue, _buffer.AsSpan(0, 256));
    }
}
