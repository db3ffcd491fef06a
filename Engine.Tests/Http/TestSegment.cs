using System.Buffers;

namespace Engine.Tests.Http;

/// <summary>A link of a multi-segment <see cref="ReadOnlySequence{T}"/>, as a pipe would hand the parser.</summary>
internal sealed class TestSegment : ReadOnlySequenceSegment<byte>
{
    public TestSegment(ReadOnlyMemory<byte> memory, TestSegment? previous)
    {
        Memory = memory;
        if (previous is not null)
        {
            RunningIndex = previous.RunningIndex + previous.Memory.Length;
            previous.Next = this;
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

            last = new TestSegment(bytes.AsSpan(start, end - start).ToArray(), last);
            first ??= last;
            start = end;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }
}
