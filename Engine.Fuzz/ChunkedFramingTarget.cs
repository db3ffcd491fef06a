using System.Buffers;

using Engine.Forwarding;

namespace Engine.Fuzz;

/// <summary>
/// <see cref="ChunkedFramingScanner"/> over a response body fed whole, in two segments whose first
/// arrives alone, and one byte per call: the three must agree on status, error and every count.
/// Invalid is the scanner's answer; an exception or a disagreement is a crash.
/// </summary>
internal static class ChunkedFramingTarget
{
    public const string Name = "chunked";

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (!FuzzInput.TryRead(input, out FuzzInput parsed))
        {
            return;
        }

        // Option bit 0: tight extension and trailer budgets, so the fuzzer reaches both limits.
        bool small = (parsed.Options & 1) != 0;
        byte[] data = parsed.Data.ToArray();
        string whole = Whole(data, small);
        InvariantViolationException.ThrowIfDifferent(whole, Split(data, parsed.Split, small), $"split at {parsed.Split}");
        InvariantViolationException.ThrowIfDifferent(whole, ByteByByte(data, small), "byte-by-byte");
    }

    private static ChunkedFramingScanner Create(bool small)
    {
        ChunkedFramingScanner scanner = small ? new ChunkedFramingScanner(maxExtensionBytes: 8, maxTrailerBytes: 32) : new ChunkedFramingScanner();
        scanner.Reset();
        return scanner;
    }

    private static string Whole(byte[] data, bool small)
    {
        ChunkedFramingScanner scanner = Create(small);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
        ChunkedScanStatus status = scanner.Scan(ref reader);
        return Describe(scanner, status, reader.Consumed, data.Length);
    }

    private static string Split(byte[] data, int split, bool small)
    {
        ChunkedFramingScanner scanner = Create(small);
        ReadOnlySequence<byte> all = FuzzSegment.Split(data, split);
        var first = new SequenceReader<byte>(all.Slice(0, split));
        ChunkedScanStatus status = scanner.Scan(ref first);
        long consumed = first.Consumed;
        InvariantViolationException.ThrowIf(status == ChunkedScanStatus.NeedMoreData && consumed != split, "NeedMoreData left bytes of the first segment unconsumed");
        if (status == ChunkedScanStatus.NeedMoreData)
        {
            var rest = new SequenceReader<byte>(all.Slice(consumed));
            status = scanner.Scan(ref rest);
            consumed += rest.Consumed;
        }

        return Describe(scanner, status, consumed, data.Length);
    }

    private static string ByteByByte(byte[] data, bool small)
    {
        ChunkedFramingScanner scanner = Create(small);
        ChunkedScanStatus status = ChunkedScanStatus.NeedMoreData;
        long consumed = 0;
        for (int i = 0; i < data.Length && status == ChunkedScanStatus.NeedMoreData; i++)
        {
            status = scanner.Scan(data.AsSpan(i, 1), out int taken);
            InvariantViolationException.ThrowIf(taken is < 0 or > 1, $"consumed {taken} of 1 byte");
            consumed += taken;
        }

        return Describe(scanner, status, consumed, data.Length);
    }

    private static string Describe(ChunkedFramingScanner scanner, ChunkedScanStatus status, long consumed, int length)
    {
        InvariantViolationException.ThrowIf(consumed > length, "consumed more than offered");
        InvariantViolationException.ThrowIf(scanner.Length != consumed, $"Length {scanner.Length} but {consumed} bytes consumed");
        InvariantViolationException.ThrowIf(scanner.DataLength > scanner.Length, "more data than body");
        InvariantViolationException.ThrowIf(scanner.IsComplete != (status == ChunkedScanStatus.Complete), "IsComplete disagrees with the status");
        InvariantViolationException.ThrowIf((status == ChunkedScanStatus.Invalid) != (scanner.Error != ChunkedFramingError.None), "Invalid without an error, or an error without Invalid");
        InvariantViolationException.ThrowIf(status == ChunkedScanStatus.NeedMoreData && consumed != length, "NeedMoreData left bytes unconsumed");
        return $"{status} {scanner.Error} consumed={consumed} data={scanner.DataLength}";
    }
}
