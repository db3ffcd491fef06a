namespace Engine.Tests.Http;

/// <summary>Finds data files by walking up from the test binaries, so worktrees and CI checkouts both work.</summary>
internal static class TestPaths
{
    /// <summary>
    /// The llhttp vectors live in ../shared/conformance beside the repository (e.g. /work/shared next
    /// to /work/main), so the walk goes past the repository root.
    /// </summary>
    public static string LlhttpVectors => FindUp(Path.Combine("shared", "conformance", "llhttp-requests.jsonl"));

    public static string MalformedVectors
    {
        get
        {
            // Copied next to the binaries if the project says so; otherwise read from the source tree.
            string copied = Path.Combine(AppContext.BaseDirectory, "Http", "Vectors", "malformed-requests.jsonl");
            return File.Exists(copied) ? copied : FindUp(Path.Combine("Engine.Tests", "Http", "Vectors", "malformed-requests.jsonl"));
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
