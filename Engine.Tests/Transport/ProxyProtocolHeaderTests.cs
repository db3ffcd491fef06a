using System.Buffers;
using System.Net;
using System.Text;
using Engine.Transport;

namespace Engine.Tests.Transport;

public class ProxyProtocolHeaderTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static TheoryData<string, string?, int> V1Valid => new()
    {
        { "PROXY TCP4 203.0.113.7 192.0.2.1 56324 8080\r\n", "203.0.113.7:56324", 0 },
        { "PROXY TCP6 2001:db8::7 2001:db8::1 443 8080\r\n", "[2001:db8::7]:443", 0 },
        { "PROXY TCP4 10.0.0.1 10.0.0.2 0 65535\r\n", "10.0.0.1:0", 0 },
        { "PROXY UNKNOWN\r\n", null, 0 },
        { "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", null, 0 },
        { "PROXY TCP4 203.0.113.7 192.0.2.1 56324 8080\r\nGET http://example.com/ HTTP/1.1\r\n\r\n", "203.0.113.7:56324", 36 },
    };

    [Theory]
    [MemberData(nameof(V1Valid))]
    public void V1_Valid_GivesTheSourceAndConsumesTheLineOnly(string text, string? source, int rest)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        Assert.Equal(ProxyHeaderStatus.Complete, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(bytes), out int consumed, out IPEndPoint? parsed));
        Assert.Equal(bytes.Length - rest, consumed);
        Assert.Equal(source, parsed?.ToString());
    }

    [Theory]
    [InlineData("GET http://example.com/ HTTP/1.1\r\n\r\n")]          // no header at all
    [InlineData("PROXY TCP5 203.0.113.7 192.0.2.1 1 2\r\n")]       // unknown protocol
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 1\r\n")]         // a field missing
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 1 2 3\r\n")]     // a field too many
    [InlineData("PROXY TCP4 203.0.113.7  192.0.2.1 1 2\r\n")]      // two spaces
    [InlineData("PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n")]       // v6 address in a TCP4 line
    [InlineData("PROXY TCP6 203.0.113.7 2001:db8::1 1 2\r\n")]     // v4 address in a TCP6 line
    [InlineData("PROXY TCP4 203.0.113.300 192.0.2.1 1 2\r\n")]     // not an address
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 0080 2\r\n")]    // leading zero
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 65536 2\r\n")]   // port out of range
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 -1 2\r\n")]      // sign
    [InlineData("proxy TCP4 203.0.113.7 192.0.2.1 1 2\r\n")]       // case matters
    public void V1_Invalid(string text)
    {
        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), out int consumed, out IPEndPoint? source));
        Assert.Equal(0, consumed);   // the fuzz target's first find: an invalid line reported its length
        Assert.Null(source);
    }

    [Fact]
    public void V1_NoLineEndWithin107Bytes_IsInvalid_ShorterIsIncomplete()
    {
        string longLine = "PROXY TCP4 " + new string('1', 120);
        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(longLine)), out _, out _));
        Assert.Equal(ProxyHeaderStatus.Incomplete, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7")), out _, out _));
    }

    [Fact]
    public void V2_Tcp4_GivesTheSource_SkipsTlvs()
    {
        byte[] tlv = [0x04, 0x00, 0x03, 0x61, 0x62, 0x63];   // PP2_TYPE_NOOP with 3 bytes
        byte[] header = V2(0x21, 0x11, [203, 0, 113, 7, 192, 0, 2, 1, 0xDC, 0x04, 0x1F, 0x90, .. tlv]);
        byte[] withRequest = [.. header, .. "GET"u8.ToArray()];
        Assert.Equal(ProxyHeaderStatus.Complete, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(withRequest), out int consumed, out IPEndPoint? source));
        Assert.Equal(header.Length, consumed);
        Assert.Equal("203.0.113.7:56324", source?.ToString());
    }

    [Fact]
    public void V2_Tcp6_GivesTheSource()
    {
        byte[] src = IPAddress.Parse("2001:db8::7").GetAddressBytes(), dst = IPAddress.Parse("2001:db8::1").GetAddressBytes();
        byte[] header = V2(0x21, 0x21, [.. src, .. dst, 0x01, 0xBB, 0x1F, 0x90]);
        Assert.Equal(ProxyHeaderStatus.Complete, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(header), out int consumed, out IPEndPoint? source));
        Assert.Equal(header.Length, consumed);
        Assert.Equal("[2001:db8::7]:443", source?.ToString());
    }

    [Theory]
    [InlineData(0x20, 0x11)]   // LOCAL (the balancer's health check), addresses ignored
    [InlineData(0x21, 0x00)]   // PROXY, UNSPEC
    [InlineData(0x21, 0x12)]   // UDP over IPv4
    [InlineData(0x21, 0x31)]   // UNIX stream
    public void V2_NoTcpClientAddress_CompleteWithoutSource(byte versionCommand, byte family)
    {
        byte[] header = V2(versionCommand, family, new byte[12]);
        Assert.Equal(ProxyHeaderStatus.Complete, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(header), out int consumed, out IPEndPoint? source));
        Assert.Equal(header.Length, consumed);
        Assert.Null(source);
    }

    [Theory]
    [InlineData(0x11, 0x11, 12)]   // version 1 in a v2 header
    [InlineData(0x22, 0x11, 12)]   // command 2
    [InlineData(0x21, 0x11, 8)]    // TCP4 with fewer than 12 address bytes
    [InlineData(0x21, 0x21, 20)]   // TCP6 with fewer than 36
    public void V2_Invalid(byte versionCommand, byte family, int payload)
    {
        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(V2(versionCommand, family, new byte[payload])), out _, out _));
    }

    [Fact]
    public void V2_PayloadOverTheLimit_IsInvalidBeforeItArrives()
    {
        byte[] header = [.. Signature, 0x21, 0x11, 0x04, 0x01];   // 1025 bytes announced
        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(header), out _, out _));
    }

    public static TheoryData<string> Whole => new() { "v1", "v2" };

    [Theory]
    [MemberData(nameof(Whole))]
    public void EveryPrefix_IsIncomplete_TheWholeIsComplete(string version)
    {
        byte[] header = version == "v1"
            ? Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 192.0.2.1 56324 8080\r\n")
            : V2(0x21, 0x11, [203, 0, 113, 7, 192, 0, 2, 1, 0xDC, 0x04, 0x1F, 0x90]);
        for (int length = 0; length < header.Length; length++)
        {
            Assert.Equal(ProxyHeaderStatus.Incomplete, ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(header, 0, length), out _, out _));
        }

        // Split across segments at every point: the same answer.
        for (int split = 1; split < header.Length; split++)
        {
            ReadOnlySequence<byte> sequence = TwoSegments(header, split);
            Assert.Equal(ProxyHeaderStatus.Complete, ProxyProtocolHeader.TryParse(sequence, out int consumed, out IPEndPoint? source));
            Assert.Equal(header.Length, consumed);
            Assert.Equal("203.0.113.7:56324", source?.ToString());
        }
    }

    private static byte[] V2(byte versionCommand, byte family, byte[] payload) =>
        [.. Signature, versionCommand, family, (byte)(payload.Length >> 8), (byte)payload.Length, .. payload];

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int split)
    {
        var first = new Segment(bytes.AsMemory(0, split));
        Segment last = first.Append(bytes.AsMemory(split));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
