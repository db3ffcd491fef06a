using System.Buffers.Text;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Connection;

/// <summary>
/// Allocation-budget measurer for a whole refused request: keep-alive absolute-URI GETs without credentials
/// from several clients at once, each answered 407 ERR_AUTH_REQUIRED on the same connection (transport,
/// parser, authentication, error writer, flush, access log to <see cref="Stream.Null"/>). Process-wide, as the
/// difference between a short and a long run per extra request, like <see cref="ForwardAllocation"/>.
/// </summary>
internal static class RejectAllocation
{
    public static Engine.Tests.Diagnostics.AllocationMeasurement MeasureRequests() => MeasureAsync().GetAwaiter().GetResult();

    private static async Task<Engine.Tests.Diagnostics.AllocationMeasurement> MeasureAsync()
    {
        await using var proxy = new ProxyFixture(o => o.AccessLogSink = Stream.Null);
        byte[] request = "GET http://127.0.0.1:9/small HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"u8.ToArray();

        return await KeepAliveAllocation.MeasureAsync("Reject.AuthChallenge", proxy.EndPoint, request, CompleteChallenge);
    }

    private static bool CompleteChallenge(ReadOnlySpan<byte> received)
    {
        int headEnd = received.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> head = received[..headEnd];
        if (!head.StartsWith("HTTP/1.1 407 "u8) || head.IndexOf("\r\nConnection: keep-alive"u8) < 0)
        {
            throw new IOException("unexpected answer: " + Encoding.ASCII.GetString(head));
        }

        int at = head.IndexOf("\r\nContent-Length: "u8) + "\r\nContent-Length: ".Length;
        if (!Utf8Parser.TryParse(head[at..], out int length, out _))
        {
            throw new IOException("a 407 without Content-Length");
        }

        return received.Length - (headEnd + 4) >= length;
    }
}
