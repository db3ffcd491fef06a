using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;

namespace Engine.Forwarding;

/// <summary>
/// Field-line primitives shared by the forwarded request and response writers. Inputs come from a
/// parser that has already validated them (no CR, LF or NUL); they are copied, not checked again.
/// </summary>
internal static class HeadWriter
{
    private static ReadOnlySpan<byte> ColonSpace => ": "u8;

    private static ReadOnlySpan<byte> CrLf => "\r\n"u8;

    /// <summary>Writes <c>name: value CRLF</c>.</summary>
    public static void WriteField(IBufferWriter<byte> writer, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Debug.Assert(!name.ContainsAny(FieldSyntax.CrLfNul) && !value.ContainsAny(FieldSyntax.CrLfNul));
        int length = name.Length + 2 + value.Length + 2;
        Span<byte> span = writer.GetSpan(length);
        name.CopyTo(span);
        int position = name.Length;
        ColonSpace.CopyTo(span[position..]);
        position += 2;
        value.CopyTo(span[position..]);
        position += value.Length;
        CrLf.CopyTo(span[position..]);
        writer.Advance(length);
    }

    /// <summary>Writes the empty line that ends a head.</summary>
    public static void WriteEndOfHead(IBufferWriter<byte> writer) => Write(writer, CrLf);

    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(writer.GetSpan(bytes.Length));
        writer.Advance(bytes.Length);
    }

    /// <summary>Formats a non-negative integer as ASCII digits into <paramref name="destination"/>.</summary>
    public static int WriteDecimal(Span<byte> destination, long value)
    {
        bool written = Utf8Formatter.TryFormat(value, destination, out int length);
        Debug.Assert(written);
        return length;
    }
}
