namespace Engine.Http;

/// <summary>
/// <c>1*DIGIT</c> as HTTP writes lengths (RFC 9110 §8.6 Content-Length): ASCII digits only, no sign,
/// no whitespace, no overflow. The one parser the request and the response heads share.
/// </summary>
internal static class DecimalDigits
{
    public static bool TryParse(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        if (digits.IsEmpty)
        {
            return false;
        }

        foreach (byte b in digits)
        {
            uint digit = (uint)(b - '0');
            if (digit > 9 || value > (long.MaxValue - digit) / 10)
            {
                return false;
            }

            value = (value * 10) + digit;
        }

        return true;
    }
}
