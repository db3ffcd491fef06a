namespace Engine.Hosting;

/// <summary>What reading the configuration produced: the options (defaults where a value was bad) and every problem found.</summary>
internal sealed class EngineConfigResult
{
    public EngineConfigResult(EngineOptions options, IReadOnlyList<ConfigProblem> problems)
    {
        Options = options;
        Problems = problems;
    }

    public EngineOptions Options { get; }

    public IReadOnlyList<ConfigProblem> Problems { get; }

    public bool IsValid => Problems.Count == 0;
}
