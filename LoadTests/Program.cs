namespace LoadTests;

internal static class LoadProgram
{
    public static int Main() => 0;
}
