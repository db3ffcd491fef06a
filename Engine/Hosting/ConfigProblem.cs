namespace Engine.Hosting;

/// <summary>One thing wrong with the configuration, located by its JSON path (<c>Engine.Packages[0].Key</c>).</summary>
internal readonly record struct ConfigProblem(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";
}
