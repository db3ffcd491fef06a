namespace Engine.Hosting;

internal static class EntryPoint
{
    public static Task<int> Main(string[] args) => EngineApp.RunAsync(args, Console.Out, Console.Error);
}
