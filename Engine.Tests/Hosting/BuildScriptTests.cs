using System.Management.Automation.Language;

namespace Engine.Tests.Hosting;

public class BuildScriptTests
{
    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Engine.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (Engine.slnx) not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void BuildPs1_ParsesWithoutErrors_AndHasEveryTask()
    {
        string path = Path.Combine(RepoRoot(), "build.ps1");
        ScriptBlockAst ast = Parser.ParseFile(path, out Token[] _, out ParseError[] errors);

        Assert.Empty(errors);
        var validateSet = ast.FindAll(a => a is AttributeAst attr && attr.TypeName.Name == "ValidateSet", searchNestedScriptBlocks: true)
            .Cast<AttributeAst>()
            .First(a => a.PositionalArguments.Count >= 5);
        string[] tasks = validateSet.PositionalArguments.OfType<StringConstantExpressionAst>().Select(s => s.Value).ToArray();
        Assert.Equal(["build", "test", "bench", "load", "publish"], tasks);

        var switchAst = (SwitchStatementAst)ast.Find(a => a is SwitchStatementAst, searchNestedScriptBlocks: true);
        string[] clauses = switchAst.Clauses.Select(c => ((StringConstantExpressionAst)c.Item1).Value).ToArray();
        Assert.Equal(tasks, clauses);
    }

    [Fact]
    public void CiRun_RunsTheReadmeTestCommand()
    {
        string root = RepoRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string ci = File.ReadAllText(Path.Combine(root, ".ci", "run"));
        const string TestCommand = "dotnet test Engine.slnx -c Release";
        Assert.Contains(TestCommand, readme, StringComparison.Ordinal);
        Assert.Contains(TestCommand, ci, StringComparison.Ordinal);
        Assert.DoesNotContain("pwsh", ci, StringComparison.Ordinal);
        Assert.Contains("dotnet run --project Engine", readme, StringComparison.Ordinal);
    }
}
