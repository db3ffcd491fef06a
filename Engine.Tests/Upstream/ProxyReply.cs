using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Upstream;

/// <summary>One answer read off a raw socket: status, headers (last wins), body.</summary>
internal sealed record ProxyReply(int Status, Dictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.GetValueOrDefault(name);

    public string? Node => Header("X-Proxy-Node");

    public string? Error => Header("X-Proxy-Error");

    /// <summary>The connection ended with a reset, not a FIN: the engine cut the answer after its head.</summary>
    public bool Reset { get; init; }

    /// <summary>
    /// Plain GET in absolute form through the proxy, Connection: close, read to the end. <paramref name="method"/>
    /// POST sends an empty body (Content-Length: 0): a request the engine may not send twice.
    /// </summary>
    public static async Task<ProxyReply> GetAsync(IPEndPoint proxy, int originPort, string user, string key, string path = "/small",
        string host = "127.0.0.1", string method = "GET")
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        string body = method == "POST" ? "Content-Length: 0\r\n" : string.Empty;
        await SendAsync(socket, $"{method} http://{host}:{originPort}{path} HTTP/1.1\r\nHost: {host}:{originPort}\r\n{Auth(user, key)}{body}Connection: close\r\n\r\n");
        (string text, bool reset) = await ReadToEndAsync(socket);
        return Parse(text) with { Reset = reset };
    }

    /// <summary>CONNECT, then (when 200) one GET inside the tunnel; the reply is the CONNECT's head with the inner response as body.</summary>
    public static async Task<ProxyReply> ConnectAsync(IPEndPoint proxy, int originPort, string user, string key, string path = "/small", string host = "127.0.0.1")
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        await SendAsync(socket, $"CONNECT {host}:{originPort} HTTP/1.1\r\nHost: {host}:{originPort}\r\n{Auth(user, key)}\r\n");
        string head = await ReadHeadAsync(socket);
        ProxyReply connect = Parse(head);
        if (connect.Status != 200)
        {
            // An error to a CONNECT may keep the connection open: read exactly its body.
            int length = int.Parse(connect.Header("Content-Length") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            return connect with { Body = await ReadExactlyAsync(socket, length) };
        }

        await SendAsync(socket, $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{originPort}\r\nConnection: close\r\n\r\n");
        (string inner, bool reset) = await ReadToEndAsync(socket);
        return connect with { Body = inner, Reset = reset };
    }

    private static string Auth(string user, string key) =>
        "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes(user + ":" + key)) + "\r\n";

    private static Task<int> SendAsync(Socket socket, string text) => socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);

    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await socket.ReceiveAsync(one, SocketFlags.None, timeout.Token) == 1)
        {
            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    private static async Task<string> ReadExactlyAsync(Socket socket, int length)
    {
        byte[] buffer = new byte[length];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int filled = 0;
        while (filled < length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                break;
            }

            filled += n;
        }

        return Encoding.UTF8.GetString(buffer, 0, filled);
    }

    private static async Task<(string Text, bool Reset)> ReadToEndAsync(Socket socket)
    {
        var all = new MemoryStream();
        byte[] buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int n;
        while ((n = await SocketText.ReceiveOrResetAsync(socket, buffer, timeout.Token)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return (Encoding.ASCII.GetString(all.ToArray()), n < 0);
    }

    private static ProxyReply Parse(string text)
    {
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string head = end < 0 ? text : text[..end];
        string body = end < 0 ? string.Empty : text[(end + 4)..];
        string[] lines = head.Split("\r\n");
        int status = lines[0].Length >= 12 ? int.Parse(lines[0].AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture) : 0;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon]] = line[(colon + 1)..].Trim();
            }
        }

        return new ProxyReply(status, headers, body);
    }
}
