using System.Buffers;

namespace Engine.Http;

/// <summary>
/// Finds the CRLF ending a line (RFC 9112 §2.2) without consuming anything. The caller keeps
/// <c>scanned</c> between calls so that feeding one byte at a time is linear, and passes the
/// remaining budget so no input makes the scan run past a limit (Kestrel's TrimAndTakeStartLine).
/// A CR not followed by LF and an LF without CR are reported as soon as they are seen.
/// </summary>
internal static class LineScanner
{
    /// <param name="unread">Bytes from the start of the line.</param>
    /// <param name="scanned">Bytes already known to hold no line end; updated on <see cref="LineScan.NeedMore"/>.</param>
    /// <param name="budget">Most bytes the line may have, CRLF excluded.</param>
    /// <param name="lineLength">Length of the line without CRLF when <see cref="LineScan.Found"/>.</param>
    public static LineScan Find(in ReadOnlySequence<byte> unread, ref int scanned, int budget, out int lineLength)
    {
        lineLength = 0;
        long window = (long)budget + 2 - scanned;
        ReadOnlySequence<byte> rest = unread.Slice(scanned);
        bool truncated = rest.Length > window;
        if (truncated)
        {
            rest = rest.Slice(0, window);
        }

        int position = scanned;
        bool afterCr = false;
        foreach (ReadOnlyMemory<byte> memory in rest)
        {
            ReadOnlySpan<byte> span = memory.Span;
            if (span.IsEmpty)
            {
                continue;
            }

            if (afterCr)
            {
                if (span[0] != HttpCharacters.LF)
                {
                    return LineScan.BareCR;
                }

                lineLength = position - 1;
                return LineScan.Found;
            }

            int index = span.IndexOfAny(HttpCharacters.CR, HttpCharacters.LF);
            if (index >= 0)
            {
                if (span[index] == HttpCharacters.LF)
                {
                    return LineScan.BareLF;
                }

                if (index + 1 < span.Length)
                {
                    if (span[index + 1] != HttpCharacters.LF)
                    {
                        return LineScan.BareCR;
                    }

                    lineLength = position + index;
                    return LineScan.Found;
                }

                afterCr = true;
            }

            position += span.Length;
        }

        // Rescan a trailing CR next time: its LF decides whether it ends the line.
        scanned = afterCr ? position - 1 : position;
        return truncated ? LineScan.TooLong : LineScan.NeedMore;
    }
}
