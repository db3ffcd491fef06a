using System.Buffers;

namespace Engine.Tests.Fixtures;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s so parsers meet every split a socket can produce.</summary>
internal sealed class TestSegment : ReadOnlySequenceSegment<byte>
{
    private TestSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Sequence(params ReadOnlyMemory<byte>[] parts)
    {
        var first = new TestSegment(parts[0], 0);
        TestSegment last = first;
        for (int i = 1; i < parts.Length; i++)
        {
            var next = new TestSegment(parts[i], last.RunningIndex + last.Memory.Length);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Whole; one byte per call; and two segments split at every boundary.</summary>
    public static IEnumerable<(string Mode, ReadOnlySequence<byte>[] Pieces)> Feeds(byte[] input)
    {
        yield return ("whole", [new ReadOnlySequence<byte>(input)]);
        yield return ("byte-by-byte", input.Select((_, i) => new ReadOnlySequence<byte>(input, i, 1)).ToArray());
        for (int split = 1; split < input.Length; split++)
        {
            yield return ($"split@{split}", [Sequence(input.AsMemory(0, split), input.AsMemory(split))]);
        }
    }

    /// <summary>One sequence whose segments end at the given offsets (each piece copied to its own array).</summary>
    public static ReadOnlySequence<byte> Chain(byte[] bytes, IReadOnlyList<int> cuts)
    {
        TestSegment? first = null;
        TestSegment? last = null;
        int start = 0;
        foreach (int end in cuts.Append(bytes.Length))
        {
            if (end < start)
            {
                continue;
            }

            var next = new TestSegment(bytes.AsSpan(start, end - start).ToArray(), last is null ? 0 : last.RunningIndex + last.Memory.Length);
            if (last is not null)
            {
                last.Next = next;
            }

            last = next;
            first ??= last;
            start = end;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }
}
