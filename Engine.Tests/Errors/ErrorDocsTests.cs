using System.Text.RegularExpressions;
using Engine.Errors;
using Engine.Tests.Diagnostics;

namespace Engine.Tests.Errors;

/// <summary>
/// docs/errors.md must cover every code, with an anchor that the problem <c>type</c> URL points at, and its
/// generated regions must be what the code produces today. To refresh them after a change:
/// <c>ENGINE_UPDATE_DOCS=1 dotnet test --filter ErrorDocsTests</c>.
/// </summary>
public class ErrorDocsTests
{
    private static readonly string s_path = Path.Combine(AllocationBudget.FindRepositoryRoot(), ErrorDocs.RelativePath);

    [Fact]
    public void Docs_HaveASectionWithAStableAnchorForEveryCode()
    {
        string markdown = File.ReadAllText(s_path);
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            string name = ErrorCatalog.Get(code).Name;
            Assert.Contains($"<a id=\"{ErrorDocs.Anchor(code)}\"></a>\n### {name}", markdown, StringComparison.Ordinal);
            Assert.Contains($"<!-- BEGIN GENERATED: meta:{name} -->", markdown, StringComparison.Ordinal);
            Assert.Contains($"<!-- BEGIN GENERATED: example:{name} -->", markdown, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Docs_EveryCodeSectionHasACauseAndAFix()
    {
        string markdown = File.ReadAllText(s_path);
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            string section = Section(markdown, ErrorCatalog.Get(code).Name);
            Assert.Contains("**Cause.**", section, StringComparison.Ordinal);
            Assert.Contains("**Fix.**", section, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DefaultTypeUrls_PointAtTheDocsAnchors()
    {
        var options = new ErrorWriterOptions();
        foreach (ErrorCode code in ErrorExample.Codes)
        {
            var url = new Uri(options.TypeUrl(ErrorCatalog.Get(code).Name));
            Assert.EndsWith("/docs/errors.md", url.AbsolutePath, StringComparison.Ordinal);
            Assert.Equal("#" + ErrorDocs.Anchor(code), url.Fragment);
        }
    }

    [Fact]
    public void Docs_GeneratedRegionsMatchTheCatalogAndTheWriter()
    {
        string markdown = File.ReadAllText(s_path).ReplaceLineEndings("\n");
        string regenerated = ErrorDocs.Regenerate(markdown);
        if (Environment.GetEnvironmentVariable("ENGINE_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(s_path, regenerated);
            return;
        }

        Assert.Contains("catalog", ErrorDocs.RegionKeys(markdown));
        Assert.True(
            markdown == regenerated,
            $"{ErrorDocs.RelativePath} is out of date with the catalog or the writer: run ENGINE_UPDATE_DOCS=1 dotnet test --filter ErrorDocsTests");
    }

    private static string Section(string markdown, string name)
    {
        Match match = Regex.Match(markdown, $"### {name}\n(?<body>.*?)(?=\n<a id=|\n## |$)", RegexOptions.Singleline);
        Assert.True(match.Success, $"no section for {name}");
        return match.Groups["body"].Value;
    }
}
