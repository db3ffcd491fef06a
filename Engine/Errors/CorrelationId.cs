using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Engine.Errors;

/// <summary>
/// Names one request in the error response and in its access-log line, so a user can paste it into a support
/// request. 18 lowercase Crockford base32 characters: 8 for a random per-process prefix (40 bits, so two engine
/// instances or restarts do not collide) then 10 for a process-wide sequence (50 bits: 35 years at a million
/// ids a second). Taking one is an Interlocked increment; formatting writes into the caller's span.
/// </summary>
internal readonly struct CorrelationId : IEquatable<CorrelationId>, IUtf8SpanFormattable, ISpanFormattable
{
    /// <summary>Characters in a formatted id.</summary>
    public const int Length = PrefixChars + SequenceChars;

    private const int PrefixChars = 8;
    private const int SequenceChars = 10;
    private const ulong PrefixMask = (1UL << (PrefixChars * 5)) - 1;
    private const ulong SequenceMask = (1UL << (SequenceChars * 5)) - 1;

    private static readonly ulong s_processPrefix = RandomPrefix();
    private static long s_sequence;

    private readonly ulong _prefix;
    private readonly ulong _sequence;

    internal CorrelationId(ulong prefix, ulong sequence)
    {
        _prefix = prefix & PrefixMask;
        _sequence = sequence & SequenceMask;
    }

    /// <summary>The default value: never issued by <see cref="Next"/> (sequences start at 1).</summary>
    public bool IsEmpty => _prefix == 0 && _sequence == 0;

    // Crockford's alphabet: no i, l, o, u, so an id read aloud or retyped from a screenshot survives.
    private static ReadOnlySpan<byte> Alphabet => "0123456789abcdefghjkmnpqrstvwxyz"u8;

    /// <summary>A new id, unique within this process and (with overwhelming probability) across processes.</summary>
    public static CorrelationId Next() =>
        new(s_processPrefix, (ulong)Interlocked.Increment(ref s_sequence));

    /// <summary>Writes the <see cref="Length"/> ASCII characters of the id.</summary>
    public bool TryFormat(Span<byte> destination, out int bytesWritten)
    {
        if (destination.Length < Length)
        {
            bytesWritten = 0;
            return false;
        }

        ReadOnlySpan<byte> alphabet = Alphabet;
        ulong prefix = _prefix;
        for (int i = PrefixChars - 1; i >= 0; i--)
        {
            destination[i] = alphabet[(int)(prefix & 31)];
            prefix >>= 5;
        }

        ulong sequence = _sequence;
        for (int i = Length - 1; i >= PrefixChars; i--)
        {
            destination[i] = alphabet[(int)(sequence & 31)];
            sequence >>= 5;
        }

        bytesWritten = Length;
        return true;
    }

    public bool TryFormat(Span<char> destination, out int charsWritten)
    {
        Span<byte> utf8 = stackalloc byte[Length];
        if (destination.Length < Length || !TryFormat(utf8, out _))
        {
            charsWritten = 0;
            return false;
        }

        for (int i = 0; i < Length; i++)
        {
            destination[i] = (char)utf8[i];
        }

        charsWritten = Length;
        return true;
    }

    bool IUtf8SpanFormattable.TryFormat(Span<byte> utf8Destination, out int bytesWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        TryFormat(utf8Destination, out bytesWritten);

    bool ISpanFormattable.TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        TryFormat(destination, out charsWritten);

    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <summary>The id as a string (allocates: for logs and tests, not the hot path).</summary>
    public override string ToString() => string.Create(Length, this, static (span, id) => id.TryFormat(span, out _));

    /// <summary>Parses the 18-character form (case-insensitive), e.g. from a support request.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out CorrelationId id)
    {
        id = default;
        text = text.Trim();
        if (text.Length != Length)
        {
            return false;
        }

        ulong prefix = 0;
        ulong sequence = 0;
        for (int i = 0; i < Length; i++)
        {
            int digit = DecodeDigit(text[i]);
            if (digit < 0)
            {
                return false;
            }

            if (i < PrefixChars)
            {
                prefix = (prefix << 5) | (uint)digit;
            }
            else
            {
                sequence = (sequence << 5) | (uint)digit;
            }
        }

        id = new CorrelationId(prefix, sequence);
        return true;
    }

    public bool Equals(CorrelationId other) => _prefix == other._prefix && _sequence == other._sequence;

    public override bool Equals([NotNullWhen(true)] object? obj) => obj is CorrelationId other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_prefix, _sequence);

    public static bool operator ==(CorrelationId left, CorrelationId right) => left.Equals(right);

    public static bool operator !=(CorrelationId left, CorrelationId right) => !left.Equals(right);

    private static int DecodeDigit(char c)
    {
        c = char.ToLowerInvariant(c);
        int index = Alphabet.IndexOf((byte)c);
        return c < 0x80 ? index : -1;
    }

    private static ulong RandomPrefix()
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes) & PrefixMask;
    }
}
