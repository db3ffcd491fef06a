using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Engine.Auth;

/// <summary>
/// Parses <c>Proxy-Authorization: Basic base64(user:pass)</c> (RFC 7617) over bytes.
/// The user-id carries the targeting rules, the password is the package key.
/// </summary>
internal static class BasicCredentials
{
    /// <summary>Longest decoded credential accepted; the header itself is bounded by the head limit.</summary>
    public const int MaxDecodedLength = 1024;

    private static ReadOnlySpan<byte> BasicScheme => "basic"u8;

    /// <summary>
    /// Decodes <paramref name="headerValue"/> into <paramref name="decoded"/> and splits it at the first
    /// colon (RFC 7617 §2: the user-id cannot contain one; the password may).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> headerValue, Span<byte> decoded, out int userLength, out Range password)
    {
        userLength = 0;
        password = default;

        // Scheme names are case-insensitive (RFC 9110 §11.1); one or more spaces separate the token68.
        if (headerValue.Length <= BasicScheme.Length
            || !Ascii.EqualsIgnoreCase(headerValue[..BasicScheme.Length], BasicScheme)
            || headerValue[BasicScheme.Length] != (byte)' ')
        {
            return false;
        }

        ReadOnlySpan<byte> token = headerValue[(BasicScheme.Length + 1)..].TrimStart((byte)' ');
        if (token.IsEmpty || Base64.GetMaxDecodedFromUtf8Length(token.Length) > decoded.Length)
        {
            return false;
        }

        OperationStatus status = Base64.DecodeFromUtf8(token, decoded, out int consumed, out int written);
        if (status != OperationStatus.Done || consumed != token.Length)
        {
            return false;
        }

        return TrySplit(decoded[..written], out userLength, out password);
    }

    /// <summary>Splits decoded <c>user:password</c> at the first colon; false for no colon, an empty password or control characters.</summary>
    public static bool TrySplit(ReadOnlySpan<byte> plain, out int userLength, out Range password)
    {
        userLength = 0;
        password = default;
        int colon = plain.IndexOf((byte)':');
        if (colon < 0 || colon == plain.Length - 1 || plain.ContainsAnyInRange((byte)0, (byte)0x1F))
        {
            return false;
        }

        userLength = colon;
        password = new Range(colon + 1, plain.Length);
        return true;
    }
}
