using System.Text.Json;

namespace Engine.Tests.Diagnostics;

/// <summary>Engine.Benchmarks/allocation-budget.json: operation name → bytes it may allocate per call.</summary>
internal static class AllocationBudget
{
    public const string RelativePath = "Engine.Benchmarks/allocation-budget.json";

    private static readonly Lazy<IReadOnlyDictionary<string, long>> s_entries = new(Load);

    public static IReadOnlyDictionary<string, long> Entries => s_entries.Value;

    /// <summary>The repository root: the first directory above the test binaries that holds Engine.slnx.</summary>
    public static string FindRepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Engine.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Engine.slnx above {AppContext.BaseDirectory}.");
    }

    private static Dictionary<string, long> Load()
    {
        string path = Path.Combine(FindRepositoryRoot(), RelativePath);
        using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(path));
        var entries = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (JsonProperty property in json.RootElement.EnumerateObject())
        {
            if (!property.Name.StartsWith('$'))
            {
                entries.Add(property.Name, property.Value.GetInt64());
            }
        }

        return entries;
    }
}
