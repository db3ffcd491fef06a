using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Connection;

/// <summary>
/// Allocation-budget measurer for the forwarding steady state: keep-alive absolute-URI GETs from
/// several clients at once through the real engine (transport, parser, auth, routing, upstream
/// pool, response relay, access log to <see cref="Stream.Null"/>) to an origin that answers every
/// request with the same bytes. The engine runs on pool threads, so the whole process is measured;
/// the clients and the origin use preallocated buffers and the ValueTask socket calls, and the
/// figure is the difference between a short and a long run per extra request, so what the
/// measuring loops cost once cancels out.
/// </summary>
internal static class ForwardAllocation
{
    public static Engine.Tests.Diagnostics.AllocationMeasurement MeasureRequests() => MeasureAsync().GetAwaiter().GetResult();

    private static async Task<Engine.Tests.Diagnostics.AllocationMeasurement> MeasureAsync()
    {
        using var origin = new FixedOrigin();
        await using var proxy = new ProxyFixture(o => o.AccessLogSink = Stream.Null);
        string credentials = Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key));
        byte[] request = Encoding.ASCII.GetBytes(
            $"GET http://127.0.0.1:{origin.Port}/small HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\nProxy-Authorization: Basic {credentials}\r\n\r\n");

        return await KeepAliveAllocation.MeasureAsync("Forward.SteadyState", proxy.EndPoint, request, CompleteResponse);
    }

    private static bool CompleteResponse(ReadOnlySpan<byte> received)
    {
        int headEnd = received.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0)
        {
            return false;
        }

        if (!received.StartsWith("HTTP/1.1 200"u8))
        {
            throw new IOException("unexpected response: " + Encoding.ASCII.GetString(received[..headEnd]));
        }

        return received.Length - (headEnd + 4) >= FixedOrigin.Body.Length;
    }

    /// <summary>An origin that answers every request head with the same keep-alive 200, allocating nothing per request.</summary>
    private sealed class FixedOrigin : IDisposable
    {
        public static readonly byte[] Body = "hello world!\n"u8.ToArray();

        private static readonly byte[] Response = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {Body.Length}\r\n\r\n{Encoding.ASCII.GetString(Body)}");

        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public FixedOrigin()
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(64);
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    Socket connection = await _listener.AcceptAsync();
                    _ = ServeAsync(connection);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Disposed: the measurement is over.
            }
        }

        private static async Task ServeAsync(Socket connection)
        {
            using (connection)
            {
                byte[] buffer = new byte[16 * 1024];
                int filled = 0;
                try
                {
                    while (true)
                    {
                        int got = await connection.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                        if (got == 0)
                        {
                            return;
                        }

                        filled += got;
                        int headEnd;
                        while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) >= 0)
                        {
                            await connection.SendAsync(Response.AsMemory(), SocketFlags.None);
                            int rest = filled - (headEnd + 4);
                            buffer.AsSpan(headEnd + 4, rest).CopyTo(buffer);
                            filled = rest;
                        }
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // The engine closed its pooled connection.
                }
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
