using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Connection;

/// <summary>
/// Every catalog error's <c>Connection</c> header tells the truth: after one that says keep-alive,
/// a second request on the same connection is served; after one that says close, the engine closes.
/// </summary>
public sealed class ErrorKeepAliveTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly TestOrigin _origin = new();
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o => o.Limits = o.Limits with { ResponseHeadTimeout = TimeSpan.FromMilliseconds(500) });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    private static string Auth(string user) => "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes(user + ":" + ProxyFixture.Key)) + "\r\n";

    public static TheoryData<string, string, string> Cases => new()
    {
        { "/small", "", "ERR_AUTH_REQUIRED" },
        { "/hang", "country-us", "GATEWAY_TIMEOUT" },
        { "/drop", "country-us", "TARGET_RESET" },
        { "/bad-head", "country-us", "RESPONSE_ERROR" },
        { "/small", "country-us-colour-blue", "ERR_UNKNOWN_PARAM" },
        { "/small", "country-de", "NODE_NOT_FOUND" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task SecondRequest_AfterAnErrorThatSaysKeepAlive_IsServed(string path, string user, string code)
    {
        using var cts = new CancellationTokenSource(Timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint, cts.Token);
        var reader = new ResponseReader(socket);
        string target = $"http://127.0.0.1:{_origin.Port}";
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {target}{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{(user.Length > 0 ? Auth(user) : "")}\r\n"), SocketFlags.None, cts.Token);
        string head = await reader.ReadAsync(cts.Token);
        Assert.Contains("X-Proxy-Error: " + code + "\r\n", head, StringComparison.Ordinal);

        bool keepAlive = head.Contains("Connection: keep-alive", StringComparison.OrdinalIgnoreCase);
        Assert.True(keepAlive || head.Contains("Connection: close", StringComparison.OrdinalIgnoreCase), head);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {target}/small HTTP/1.1\r\nHost: 127.0.0.1\r\n{Auth("country-us")}\r\n"), SocketFlags.None, cts.Token);
        if (keepAlive)
        {
            string second = await reader.ReadAsync(cts.Token);
            Assert.StartsWith("HTTP/1.1 200 ", second, StringComparison.Ordinal);
        }
        else
        {
            Assert.True(await reader.IsClosedAsync(cts.Token), "the engine said close but answered a second request");
        }
    }

    [Fact]
    public async Task UnexpectedFault_IsAnswered500InternalError_Logged_AndTheConnectionCloses()
    {
        await using var faulty = new ProxyFixture(o => o.WrapConnector = _ => new ThrowingConnector());
        using var cts = new CancellationTokenSource(Timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(faulty.EndPoint, cts.Token);
        var reader = new ResponseReader(socket);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{_origin.Port}/small HTTP/1.1\r\nHost: 127.0.0.1\r\n{Auth("country-us")}\r\n"), SocketFlags.None, cts.Token);

        string head = await reader.ReadAsync(cts.Token);
        Assert.StartsWith("HTTP/1.1 500 ", head, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Error: INTERNAL_ERROR\r\n", head, StringComparison.Ordinal);
        Assert.Contains("Connection: close", head, StringComparison.OrdinalIgnoreCase);
        Assert.True(await reader.IsClosedAsync(cts.Token));
        string[] lines = await faulty.LogLinesAsync();
        Assert.Contains("code=INTERNAL_ERROR", lines[^1], StringComparison.Ordinal);
    }

    private sealed class ThrowingConnector : Engine.Upstream.INodeConnector
    {
        public ValueTask<Engine.Upstream.ConnectResult> ConnectAsync(Engine.Upstream.Node node, string host, int port, Engine.Upstream.ConnectPurpose purpose,
            CancellationToken shutdown, Engine.Upstream.UpstreamCredentials credentials = default) =>
            throw new InvalidOperationException("injected fault");
    }

    /// <summary>Reads responses with a Content-Length body off one socket, keeping what follows.</summary>
    private sealed class ResponseReader(Socket socket)
    {
        private readonly List<byte> _pending = [];

        public async Task<string> ReadAsync(CancellationToken cancellationToken)
        {
            int end;
            while ((end = HeadEnd()) < 0)
            {
                Assert.True(await FillAsync(cancellationToken), "closed before a whole response head");
            }

            string head = Encoding.ASCII.GetString([.. _pending.Take(end)]);
            string? lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            int length = lengthLine is null ? 0 : int.Parse(lengthLine[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            while (_pending.Count < end + 4 + length)
            {
                Assert.True(await FillAsync(cancellationToken), "closed before the whole body");
            }

            _pending.RemoveRange(0, end + 4 + length);
            return head;
        }

        public async Task<bool> IsClosedAsync(CancellationToken cancellationToken)
        {
            try
            {
                return _pending.Count == 0 && !await FillAsync(cancellationToken);
            }
            catch (SocketException)
            {
                return true;
            }
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            byte[] buffer = new byte[8192];
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            _pending.AddRange(buffer.AsSpan(0, n).ToArray());
            return n > 0;
        }

        private int HeadEnd()
        {
            for (int i = 3; i < _pending.Count; i++)
            {
                if (_pending[i - 3] == '\r' && _pending[i - 2] == '\n' && _pending[i - 1] == '\r' && _pending[i] == '\n')
                {
                    return i - 3;
                }
            }

            return -1;
        }
    }
}
