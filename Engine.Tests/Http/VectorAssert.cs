using System.Text.Json;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>Runs one vector under one feeding and fails with every difference, naming the vector (and split).</summary>
internal static class VectorAssert
{
    public static void Matches(ConformanceVector vector, FeedMode mode) => Matches(vector, mode, vector.Expect);

    public static void Matches(ConformanceVector vector, FeedMode mode, JsonElement expect)
    {
        var failures = new List<string>();
        foreach ((string label, DriverOutcome outcome) in Outcomes(vector.Raw, mode, vector.Limits, vector.ChunkLimits))
        {
            foreach (string problem in OutcomeComparer.Compare(expect, outcome))
            {
                failures.Add($"{vector.Id} [{mode}{label}]: {problem}");
            }

            if (failures.Count > 20)
            {
                break;
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    public static IEnumerable<(string Label, DriverOutcome Outcome)> Outcomes(byte[] raw, FeedMode mode, HttpParserLimits limits, ChunkLimits chunkLimits)
    {
        if (mode != FeedMode.SplitEverywhere)
        {
            yield return ("", HttpTestDriver.Run(raw, mode, limits, chunkLimits));
            yield break;
        }

        for (int split = 1; split < raw.Length; split++)
        {
            yield return ($" at {split}", HttpTestDriver.RunSplit(raw, split, limits, chunkLimits));
        }
    }
}
