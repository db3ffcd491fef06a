using System.Buffers.Binary;

namespace Engine.Fuzz;

/// <summary>
/// How a split target reads its input: byte 0 holds option bits for the target, bytes 1–2 a
/// little-endian split position (taken modulo the data length + 1), the rest is the data fed to
/// the component. Seeds put the split in the middle; the fuzzer moves it.
/// </summary>
internal readonly ref struct FuzzInput
{
    public const int PrefixLength = 3;

    private FuzzInput(byte options, int split, ReadOnlySpan<byte> data)
    {
        Options = options;
        Split = split;
        Data = data;
    }

    public byte Options { get; }

    public int Split { get; }

    public ReadOnlySpan<byte> Data { get; }

    public static bool TryRead(ReadOnlySpan<byte> input, out FuzzInput parsed)
    {
        if (input.Length < PrefixLength)
        {
            parsed = default;
            return false;
        }

        ReadOnlySpan<byte> data = input[PrefixLength..];
        int split = BinaryPrimitives.ReadUInt16LittleEndian(input[1..]) % (data.Length + 1);
        parsed = new FuzzInput(input[0], split, data);
        return true;
    }

    /// <summary>The prefix and data as one fuzzer input (seeds and regression tests).</summary>
    public static byte[] Encode(byte options, int split, ReadOnlySpan<byte> data)
    {
        byte[] input = new byte[PrefixLength + data.Length];
        input[0] = options;
        BinaryPrimitives.WriteUInt16LittleEndian(input.AsSpan(1), (ushort)split);
        data.CopyTo(input.AsSpan(PrefixLength));
        return input;
    }
}
