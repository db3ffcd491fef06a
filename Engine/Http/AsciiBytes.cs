using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Http;

/// <summary>
/// Word-at-a-time compares for recognising methods, field names and list tokens without strings:
/// a length switch first, then one or a few ulong compares (Kestrel's HttpUtilities idea).
/// </summary>
internal static class AsciiBytes
{
    /// <summary>
    /// OR-ing 0x20 folds 'A'-'Z' onto 'a'-'z'. It also changes '^' and '_' (0x5E, 0x5F), but no
    /// known name contains those, so a folded compare against lower-case letters, digits and '-' is exact.
    /// </summary>
    private const ulong LowerMask = 0x2020_2020_2020_2020;

    /// <summary>Loads up to 8 bytes little-endian, zero padded, so short names compare as one word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Load(ReadOnlySpan<byte> bytes)
    {
        ref byte start = ref MemoryMarshal.GetReference(bytes);
        switch (bytes.Length)
        {
            case >= 8:
                return Unsafe.ReadUnaligned<ulong>(ref start);
            case >= 4:
                {
                    // Two overlapping 4-byte reads cover 4..7 bytes without a loop.
                    ulong low = Unsafe.ReadUnaligned<uint>(ref start);
                    ulong high = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, bytes.Length - 4));
                    return low | (high << (8 * (bytes.Length - 4)));
                }

            case >= 2:
                {
                    ulong low = Unsafe.ReadUnaligned<ushort>(ref start);
                    ulong high = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, bytes.Length - 2));
                    return low | (high << (8 * (bytes.Length - 2)));
                }

            case 1:
                return start;
            default:
                return 0;
        }
    }

    /// <summary>Case-insensitive equality with a lower-case ASCII constant of the same length class.</summary>
    public static bool EqualsLower(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> lower)
    {
        if (bytes.Length != lower.Length)
        {
            return false;
        }

        if (bytes.Length <= 8)
        {
            return (Load(bytes) | LowerMask) == (Load(lower) | LowerMask);
        }

        ref byte a = ref MemoryMarshal.GetReference(bytes);
        ref byte b = ref MemoryMarshal.GetReference(lower);
        int last = bytes.Length - 8;
        for (int i = 0; i < last; i += 8)
        {
            if ((Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref a, i)) | LowerMask) != Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, i)))
            {
                return false;
            }
        }

        // The final word overlaps the previous one instead of a byte loop for the tail.
        return (Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref a, last)) | LowerMask) == Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, last));
    }

    /// <summary>Takes the next non-empty member of a comma-separated list, OWS trimmed (RFC 9110 §5.6.1).</summary>
    public static bool NextListMember(ref ReadOnlySpan<byte> list, out ReadOnlySpan<byte> member)
    {
        while (!list.IsEmpty)
        {
            int comma = list.IndexOf((byte)',');
            ReadOnlySpan<byte> raw = comma < 0 ? list : list[..comma];
            list = comma < 0 ? default : list[(comma + 1)..];
            member = HttpCharacters.TrimWhitespace(raw);
            if (!member.IsEmpty)
            {
                return true;
            }

            // RFC 9110 §5.6.1: empty list elements are ignored.
        }

        member = default;
        return false;
    }
}
