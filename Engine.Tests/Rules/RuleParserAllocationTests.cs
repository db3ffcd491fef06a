using System.Text;
using Engine.Rules;

namespace Engine.Tests.Rules;

/// <summary>STYLE.md allocation budget: parsing rules allocates 0 bytes, on success and on error (detail included).</summary>
public class RuleParserAllocationTests
{
    internal static readonly byte[] Typical = Encoding.ASCII.GetBytes("country-us-city-new_york-session-abc123-sessionlength-600-rotate-timed_300-onerror-retry_3");

    internal static readonly byte[] Mistake = Encoding.ASCII.GetBytes("country-us-city-los-angeles-session-abc123");

    [Fact]
    public void TryParse_ValidRules_AllocatesNothing() => Assert.Equal(0, Measure(Typical, expectSuccess: true).Bytes);

    [Fact]
    public void TryParse_InvalidRulesWithDetail_AllocatesNothing() => Assert.Equal(0, Measure(Mistake, expectSuccess: false).Bytes);

    /// <summary>Bytes allocated by 10,000 parses of each path after warm-up, success and error together (the allocation-budget measurer).</summary>
    internal static Engine.Tests.Diagnostics.AllocationMeasurement MeasureParses() => Measure(Typical, expectSuccess: true) + Measure(Mistake, expectSuccess: false);

    private static Engine.Tests.Diagnostics.AllocationMeasurement Measure(byte[] username, bool expectSuccess)
    {
        RulePolicy policy = RulePolicy.Create(["country", "city", "session", "sessionlength", "rotate", "onerror"], ["res", "mob"]);
        byte[] detail = new byte[256];
        byte[] canonical = new byte[RuleFormatter.MaxLength];
        // Warm until three rounds in a row allocate nothing: tier-0 code may box where tier-1 does
        // not, and under a loaded full suite the tier-up comes late (a 1,000-parse warm-up failed
        // there). A parse that allocates for real allocates in every round and fails below.
        for (int round = 0, quiet = 0; round < 50 && quiet < 3; round++)
        {
            long start = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1_000; i++)
            {
                ParseOnce(username, policy, detail, canonical, expectSuccess);
            }

            quiet = GC.GetAllocatedBytesForCurrentThread() == start ? quiet + 1 : 0;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            ParseOnce(username, policy, detail, canonical, expectSuccess);
        }

        return new(GC.GetAllocatedBytesForCurrentThread() - before, 10_000, 0, "parse");
    }

    private static void ParseOnce(byte[] username, RulePolicy policy, byte[] detail, byte[] canonical, bool expectSuccess)
    {
        bool ok = RuleParser.TryParse(username, policy, out RuleSet rules, out RuleError error);
        if (ok != expectSuccess)
        {
            throw new InvalidOperationException($"unexpected outcome {error.Problem}");
        }

        if (ok)
        {
            if (RuleFormatter.Format(rules, username, canonical, includeSession: false) <= 0)
            {
                throw new InvalidOperationException("format failed");
            }
        }
        else if (error.FormatDetail(username, detail) <= 0)
        {
            throw new InvalidOperationException("no detail");
        }
    }
}
