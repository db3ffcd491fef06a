using BenchmarkDotNet.Running;

namespace Engine.Benchmarks;

internal static class BenchmarkProgram
{
    // Every benchmark class in this assembly; pick with --filter, e.g. `--filter *Parser*`.
    public static void Main(string[] args) =>
        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
}
