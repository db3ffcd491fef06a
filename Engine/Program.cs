namespace Engine.Hosting;

internal static class EntryPoint
{
    public static int Main() => 0;
}
