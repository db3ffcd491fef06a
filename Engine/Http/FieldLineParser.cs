namespace Engine.Http;

/// <summary>
/// Validates one field line (RFC 9112 §5.1, RFC 9110 §5.1 and §5.5), shared by the header and
/// trailer sections. The line has no CR or LF (the line scanner guarantees it) and does not start
/// with whitespace (the callers reject that as obs-fold first).
/// </summary>
internal static class FieldLineParser
{
    public static RejectReason Parse(ReadOnlySpan<byte> line, out int nameLength, out int valueOffset, out int valueLength)
    {
        valueOffset = 0;
        valueLength = 0;
        nameLength = line.IndexOfAnyExcept(HttpCharacters.Token);
        if (nameLength <= 0)
        {
            // No colon at all, or an empty name.
            return RejectReason.InvalidHeaderName;
        }

        if (line[nameLength] != HttpCharacters.Colon)
        {
            // RFC 9112 §5.1: whitespace before the colon MUST be rejected; it is the classic
            // "Transfer-Encoding : chunked" smuggling vector.
            int next = nameLength;
            while (next < line.Length && HttpCharacters.IsWhitespace(line[next]))
            {
                next++;
            }

            return next > nameLength && next < line.Length && line[next] == HttpCharacters.Colon
                ? RejectReason.WhitespaceBeforeColon
                : RejectReason.InvalidHeaderName;
        }

        int start = nameLength + 1;
        ReadOnlySpan<byte> value = line[start..];
        if (value.IndexOfAnyExcept(HttpCharacters.FieldValue) >= 0)
        {
            return RejectReason.InvalidHeaderValue;
        }

        int end = value.Length;
        int begin = 0;
        while (begin < end && HttpCharacters.IsWhitespace(value[begin]))
        {
            begin++;
        }

        while (end > begin && HttpCharacters.IsWhitespace(value[end - 1]))
        {
            end--;
        }

        valueOffset = start + begin;
        valueLength = end - begin;
        return RejectReason.None;
    }
}
