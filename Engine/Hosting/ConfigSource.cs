namespace Engine.Hosting;

/// <summary>Where the running configuration came from, so a reload reads it the same way: the file plus its command-line overrides.</summary>
internal sealed record ConfigSource(string File, IReadOnlyList<KeyValuePair<string, string?>> Overrides)
{
    public EngineConfigResult Load()
    {
        try
        {
            return EngineConfigReader.Read(EngineApp.BuildConfiguration(File, Overrides));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or FormatException or IOException)
        {
            return new EngineConfigResult(new EngineOptions(), [new ConfigProblem(File, (e.InnerException?.Message ?? e.Message).Split('\n')[0].Trim())]);
        }
    }
}
