using System.Globalization;

namespace Engine.Http;

/// <summary><c>host:port</c> text as configuration writes it (node addresses, listener endpoints).</summary>
internal static class HostPort
{
    /// <summary>Splits <c>host:port</c> / <c>[v6]:port</c>; port 0..65535, host non-empty.</summary>
    public static bool TryParse(string text, out string host, out int port)
    {
        host = "";
        port = 0;
        string portText;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            portText = text[(close + 2)..];
        }
        else
        {
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon != text.LastIndexOf(':'))
            {
                return false;
            }

            host = text[..colon];
            portText = text[(colon + 1)..];
        }

        return host.Length > 0
            && !host.Any(char.IsWhiteSpace)
            && portText.Length is > 0 and <= 5
            && int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port <= 65535;
    }
}
