namespace Engine.Hosting;

internal static class EntryPoint
{
    // The socket mode (inline completions) is chosen in EngineApp once the configuration is read,
    // before anything touches a socket: see EngineApp.ChooseSocketMode.
    public static Task<int> Main(string[] args) => EngineApp.RunAsync(args, Console.Out, Console.Error);
}
