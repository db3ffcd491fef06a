using System.Net;
using System.Text;
using Engine.Diagnostics;

namespace Engine.Tests.Diagnostics;

public class AccessLogTests
{
    private static AccessLogEntry Entry(string target) => new()
    {
        Time = new DateTimeOffset(2026, 11, 23, 1, 2, 3, 456, TimeSpan.Zero),
        CorrelationId = "00ab12cd34ef5678"u8,
        Client = new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.1"), 5555),
        PackageId = "demo",
        Method = "CONNECT"u8,
        Target = Encoding.Latin1.GetBytes(target),
        NodeId = "local",
        Status = 200,
        Code = default,
        BytesIn = 1234,
        BytesOut = 98765,
        Duration = TimeSpan.FromMilliseconds(1500),
        Termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Data),
    };

    [Fact]
    public void Format_Tunnel_WritesOneLogfmtLine()
    {
        byte[] buffer = new byte[4096];
        int n = AccessLogLogfmt.Format(Entry("example.com:443"), buffer);
        Assert.Equal(
            "2026-11-23T01:02:03.456Z cid=00ab12cd34ef5678 client=127.0.0.1:5555 pkg=demo method=CONNECT target=example.com:443 node=local status=200 code=- in=1234 out=98765 ms=1500 ts=CD\n",
            Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void Format_HostileTarget_StaysOneLineWithoutSpacesOrQuotes()
    {
        byte[] buffer = new byte[4096];
        int n = AccessLogLogfmt.Format(Entry("http://x/\"a b\r\nc=d\u00ff" + new string('z', 2000)), buffer);
        string line = Encoding.ASCII.GetString(buffer, 0, n);
        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        string target = line.Split(' ').Single(f => f.StartsWith("target=", StringComparison.Ordinal));
        Assert.DoesNotContain('"', target);
        Assert.Equal("target=".Length + 512, target.Length);
    }

    [Fact]
    public async Task Write_ReachesTheSink()
    {
        using var sink = new MemoryStream();
        await using (var log = new AccessLog(sink))
        {
            for (int i = 0; i < 100; i++)
            {
                log.Write(Entry("example.com:443"));
            }
        }

        string text = Encoding.ASCII.GetString(sink.ToArray());
        Assert.Equal(100, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }
}
