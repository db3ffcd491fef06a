namespace Engine.Tests.Http;

/// <summary>Finds data files by walking up from the test binaries, so worktrees and CI checkouts both work.</summary>
internal static class TestPaths
{
    /// <summary>
    /// The llhttp vectors are vendored in Http/Vectors (copied next to the binaries) so a clean
    /// clone needs nothing beside it; ../shared/conformance is the fallback they come from.
    /// </summary>
    public static string LlhttpVectors => Vector("llhttp-requests.jsonl", Path.Combine("shared", "conformance", "llhttp-requests.jsonl"));

    public static string MalformedVectors => Vector("malformed-requests.jsonl", null);

    // Next to the binaries, else in the source tree, else (for the llhttp file) in ../shared.
    private static string Vector(string name, string? fallback)
    {
        string copied = Path.Combine(AppContext.BaseDirectory, "Http", "Vectors", name);
        if (File.Exists(copied))
        {
            return copied;
        }

        string source = Path.Combine("Engine.Tests", "Http", "Vectors", name);
        return fallback is null ? FindUp(source) : TryFindUp(source) ?? FindUp(fallback);
    }

    private static string? TryFindUp(string relative)
    {
        try
        {
            return FindUp(relative);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private static string FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"'{relative}' not found in {AppContext.BaseDirectory} or any parent directory. " +
            "The conformance vectors are expected in shared/conformance beside the repository checkout.");
    }
}
