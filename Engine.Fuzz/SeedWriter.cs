using System.Text;
using System.Text.Json;

namespace Engine.Fuzz;

/// <summary>
/// Writes one seed directory per target: request bytes from the conformance vectors (the llhttp
/// set and the malformed set generated from spec/malformed.md), the chunked bodies inside them,
/// and hand-made responses, chunked bodies, usernames and SOCKS5 handshakes.
/// </summary>
internal static class SeedWriter
{
    private static readonly string[] Responses =
    [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 \r\nContent-Length: 1, 1\r\nConnection: close, X-Foo\r\nX-Foo: bar\r\nTrailer: Expires\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\n Folded: value\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1 999 Weird\r\nSet-Cookie: a=b\r\nSet-Cookie: c=d\r\n\r\n",
    ];

    private static readonly string[] ChunkedBodies =
    [
        "0\r\n\r\n",
        "5\r\nhello\r\n0\r\n\r\n",
        "5;name=value\r\nhello\r\n6 ;x\r\n world\r\n0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\nHTTP/1.1 200 OK\r\n",
        "000000000000000000005\r\nhello\r\n0\r\n\r\n",
        "FFFFFFFFFFFFFFFF\r\n",
        "a\r\n0123456789\r\n0;last\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",
        "5\nhello\n0\n\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX0\r\n\r\n",
    ];

    private static readonly string[] Usernames =
    [
        "country-us", "country-any", "country-US", "country-gb-city-london-session-abc123",
        "country-us-region-california-city-los_angeles-isp-comcast-asn-7922-network-res-session-s1-sessionlength-600-idlettl-60",
        "session-abc-rotate-timed_60", "session-abc-rotate-requests_10", "sessionid-x-onerror-retry_3", "session-x-onerror-replace-prefer-lookalike",
        "country-us-bind-node", "country-us-country-gb", "country-us--city-x", "Country-us", "city-los-angeles",
        "asn-4294967296", "sessionlength-86401", "network-mob-onerror-fail", "session-x-bind-node-prefer-lookalike",
        "", "-", "country", "country-", "country-u\u00e9",
    ];

    public static void Write(string directory, IEnumerable<string> vectorFiles)
    {
        List<byte[]> requests = [];
        foreach (string file in vectorFiles)
        {
            foreach (string line in File.ReadLines(file))
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                using var json = JsonDocument.Parse(line);
                if (json.RootElement.TryGetProperty("raw_base64", out JsonElement raw))
                {
                    requests.Add(Convert.FromBase64String(raw.GetString() ?? string.Empty));
                }
            }
        }

        int n = 0;
        foreach (byte[] request in requests)
        {
            // Every fourth seed under the small limits, so both configurations start covered.
            Save(directory, RequestHeadTarget.Name, n++, FuzzInput.Encode((byte)(n % 4 == 0 ? 1 : 0), request.Length / 2, request));
        }

        n = 0;
        foreach (byte[] body in requests.Where(IsChunked).Select(BodyOf).Concat(ChunkedBodies.Select(Latin1)))
        {
            Save(directory, ChunkedFramingTarget.Name, n++, FuzzInput.Encode((byte)(n % 4 == 0 ? 1 : 0), body.Length / 2, body));
        }

        n = 0;
        foreach (byte[] response in Responses.Select(Latin1))
        {
            Save(directory, ResponseHeadTarget.Name, n++, FuzzInput.Encode((byte)(n % 3), response.Length / 2, response));
        }

        n = 0;
        foreach (byte[] username in Usernames.Select(u => Encoding.UTF8.GetBytes(u)))
        {
            Save(directory, RuleTarget.Name, n++, username);
        }

        n = 0;
        foreach (byte[] handshake in Socks5Handshakes())
        {
            Save(directory, Socks5Target.Name, n++, FuzzInput.Encode(0, handshake.Length / 2, handshake));
        }

        n = 0;
        foreach (byte[] header in ProxyHeaders())
        {
            Save(directory, ProxyHeaderTarget.Name, n++, FuzzInput.Encode(0, header.Length / 2, header));
        }
    }

    private static IEnumerable<byte[]> ProxyHeaders()
    {
        byte[] signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
        yield return [.. "PROXY TCP4 203.0.113.7 192.0.2.1 56324 8080\r\nGET / HTTP/1.1\r\n\r\n"u8];
        yield return [.. "PROXY TCP6 2001:db8::7 2001:db8::1 443 8080\r\n"u8];
        yield return [.. "PROXY UNKNOWN\r\n"u8];
        yield return [.. signature, 0x21, 0x11, 0x00, 0x0C, 203, 0, 113, 7, 192, 0, 2, 1, 0xDC, 0x04, 0x1F, 0x90];
        yield return [.. signature, 0x21, 0x21, 0x00, 0x27, .. new byte[32], 0x01, 0xBB, 0x1F, 0x90, 0x04, 0x00, 0x00];
        yield return [.. signature, 0x20, 0x00, 0x00, 0x00];
    }

    private static IEnumerable<byte[]> Socks5Handshakes()
    {
        byte[] domain = [.. "example.com"u8];
        yield return [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80];
        yield return [5, 2, 0, 2, 1, 4, .. "user"u8, 8, .. "password"u8, 5, 1, 0, 3, (byte)domain.Length, .. domain, 1, 187];
        yield return [5, 1, 2, 1, 0, 0, 5, 1, 0, 4, .. new byte[15], 1, 0x1F, 0x90];
        yield return [5, 1, 0, 5, 2, 0, 1, 10, 0, 0, 1, 0, 0];
        yield return [5, 1, 0, 5, 3, 0, 5, 0, 0];
        yield return [5, 1, 0, 5, 1, 0, 3, 0, 0, 80];
        yield return [5, 0];
        yield return [4, 1, 0, 80, 127, 0, 0, 1, 0];
        yield return [5, 1, 2, 1, 255, .. new byte[255], 255, .. new byte[255], 5, 1, 0, 3, 255, .. Enumerable.Repeat((byte)'a', 255), 0, 80];
        yield return [5, 3, 0, 1, 2, 5, 1, 1, 1, 127, 0, 0, 1, 0, 80];
    }

    private static bool IsChunked(byte[] request) => Latin1(request).Contains("chunked", StringComparison.OrdinalIgnoreCase);

    private static byte[] BodyOf(byte[] request)
    {
        int end = request.AsSpan().IndexOf("\r\n\r\n"u8);
        return end < 0 ? request : request[(end + 4)..];
    }

    private static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text);

    private static string Latin1(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    private static void Save(string directory, string target, int index, byte[] input)
    {
        string folder = Path.Combine(directory, target);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, $"seed-{index:D3}"), input);
    }
}
