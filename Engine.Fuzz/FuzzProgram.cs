using SharpFuzz;

namespace Engine.Fuzz;

/// <summary>
/// Fuzz harness (docs/fuzzing.md). Under afl-fuzz: <c>Engine.Fuzz TARGET</c> reads inputs through
/// SharpFuzz's in-process loop. <c>Engine.Fuzz TARGET FILE...</c> replays inputs (a crash file,
/// a corpus) and exits 1 on the first that throws. <c>Engine.Fuzz --make-seeds DIR VECTORS.jsonl...</c>
/// writes the seed directories; <c>--list</c> names the targets.
/// </summary>
internal static class FuzzProgram
{
    private static readonly Dictionary<string, ReadOnlySpanAction> Targets = new(StringComparer.Ordinal)
    {
        [RequestHeadTarget.Name] = RequestHeadTarget.Run,
        [ChunkedFramingTarget.Name] = ChunkedFramingTarget.Run,
        [ResponseHeadTarget.Name] = ResponseHeadTarget.Run,
        [RuleTarget.Name] = RuleTarget.Run,
        [Socks5Target.Name] = Socks5Target.Run,
        [ProxyHeaderTarget.Name] = ProxyHeaderTarget.Run,
    };

    public static int Main(string[] args)
    {
        if (args.Length >= 2 && args[0] == "--make-seeds")
        {
            SeedWriter.Write(args[1], args.Skip(2));
            return 0;
        }

        if (args.Length == 1 && args[0] == "--list")
        {
            Console.Out.WriteLine(string.Join('\n', Targets.Keys));
            return 0;
        }

        if (args.Length == 0 || !Targets.TryGetValue(args[0], out ReadOnlySpanAction? target))
        {
            Console.Error.WriteLine($"usage: Engine.Fuzz {{{string.Join('|', Targets.Keys)}}} [FILE...] | --make-seeds DIR [VECTORS.jsonl...] | --list");
            return 2;
        }

        if (args.Length == 1)
        {
            // SharpFuzz's persistent loop: one process, an input per round trip with afl-fuzz's fork server.
            Fuzzer.Run(stream =>
            {
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                target(copy.GetBuffer().AsSpan(0, (int)copy.Length));
            });
            return 0;
        }

        foreach (string file in args.Skip(1).SelectMany(Expand))
        {
            try
            {
                target(File.ReadAllBytes(file));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"{file}: {e}");
                return 1;
            }
        }

        return 0;
    }

    private static IEnumerable<string> Expand(string path) =>
        Directory.Exists(path) ? Directory.EnumerateFiles(path).Order(StringComparer.Ordinal) : [path];
}
