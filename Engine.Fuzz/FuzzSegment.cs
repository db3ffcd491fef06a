using System.Buffers;

namespace Engine.Fuzz;

/// <summary>A link of a two-segment <see cref="ReadOnlySequence{T}"/>, as a pipe hands bytes that arrived in two reads.</summary>
internal sealed class FuzzSegment : ReadOnlySequenceSegment<byte>
{
    private FuzzSegment(ReadOnlyMemory<byte> memory, FuzzSegment? previous)
    {
        Memory = memory;
        if (previous is not null)
        {
            RunningIndex = previous.RunningIndex + previous.Memory.Length;
            previous.Next = this;
        }
    }

    /// <summary>
    /// <paramref name="data"/> as two segments cut at <paramref name="split"/>, each its own array
    /// (so a read past the first one cannot land in the second by accident). Either may be empty.
    /// </summary>
    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> data, int split)
    {
        var first = new FuzzSegment(data[..split].ToArray(), null);
        var second = new FuzzSegment(data[split..].ToArray(), first);
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }
}
