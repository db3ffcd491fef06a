using System.Buffers;
using System.Text;
using Engine.Socks;
using Engine.Tests.Forwarding;

namespace Engine.Tests.Socks;

public class Socks5ParserTests
{
    private static Socks5ParseStatus Greeting(byte[] bytes, out bool noAuth, out bool userPass)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        return Socks5Parser.ReadGreeting(ref reader, out noAuth, out userPass);
    }

    private static (Socks5ParseStatus Status, Socks5Request Request, string Host, bool Unsupported, long Consumed) Request(ReadOnlySequence<byte> bytes)
    {
        var reader = new SequenceReader<byte>(bytes);
        byte[] host = new byte[Socks5Parser.MaxHostLength];
        Socks5ParseStatus status = Socks5Parser.ReadRequest(ref reader, host, out Socks5Request request, out bool unsupported);
        return (status, request, Encoding.ASCII.GetString(host, 0, request.HostLength), unsupported, reader.Consumed);
    }

    [Theory]
    [InlineData(new byte[] { 5, 1, 0 }, "Complete", true, false)]
    [InlineData(new byte[] { 5, 2, 0, 2 }, "Complete", true, true)]
    [InlineData(new byte[] { 5, 1, 2 }, "Complete", false, true)]
    [InlineData(new byte[] { 5, 1, 1 }, "Complete", false, false)]     // GSSAPI only: nothing we serve
    [InlineData(new byte[] { 5, 0 }, "Invalid", false, false)]          // zero methods
    [InlineData(new byte[] { 4, 1, 0 }, "Invalid", false, false)]       // SOCKS4
    [InlineData(new byte[] { 0x47, 0x45, 0x54 }, "Invalid", false, false)]   // "GET" on a SOCKS port
    [InlineData(new byte[] { 5 }, "Incomplete", false, false)]
    [InlineData(new byte[] { 5, 3, 0 }, "Incomplete", false, false)]    // methods truncated
    public void ReadGreeting_Table(byte[] bytes, string expected, bool noAuth, bool userPass)
    {
        Assert.Equal(Enum.Parse<Socks5ParseStatus>(expected), Greeting(bytes, out bool offersNoAuth, out bool offersUserPass));
        if (expected == "Complete")
        {
            Assert.Equal(noAuth, offersNoAuth);
            Assert.Equal(userPass, offersUserPass);
        }
    }

    [Fact]
    public void ReadUserPass_WholeAndSplitAtEveryByte_GivesTheSameCredentials()
    {
        byte[] message = [1, 5, .. "alice"u8, 3, .. "key"u8];
        for (int split = 0; split <= message.Length; split++)
        {
            ReadOnlySequence<byte> sequence = TestSegment.Sequence(message.AsMemory(0, split), message.AsMemory(split));
            var reader = new SequenceReader<byte>(sequence);
            byte[] user = new byte[255];
            byte[] password = new byte[255];
            Assert.Equal(Socks5ParseStatus.Complete, Socks5Parser.ReadUserPass(ref reader, user, password, out int ulen, out int plen));
            Assert.Equal("alice", Encoding.ASCII.GetString(user, 0, ulen));
            Assert.Equal("key", Encoding.ASCII.GetString(password, 0, plen));
        }

        for (int length = 0; length < message.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(message, 0, length));
            Assert.Equal(Socks5ParseStatus.Incomplete, Socks5Parser.ReadUserPass(ref reader, new byte[255], new byte[255], out _, out _));
            Assert.Equal(0, reader.Consumed);
        }

        var wrongVersion = new SequenceReader<byte>(new ReadOnlySequence<byte>([5, 1, 65, 1, 65]));
        Assert.Equal(Socks5ParseStatus.Invalid, Socks5Parser.ReadUserPass(ref wrongVersion, new byte[255], new byte[255], out _, out _));
    }

    [Theory]
    [InlineData(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, 0x1F, 0x90 }, "127.0.0.1", 8080)]
    [InlineData(new byte[] { 5, 1, 0, 3, 11, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', (byte)'.', (byte)'c', (byte)'o', (byte)'m', 1, 187 }, "example.com", 443)]
    [InlineData(new byte[] { 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80 }, "::1", 80)]
    public void ReadRequest_EveryAddressType_WholeAndSplit(byte[] message, string host, int port)
    {
        for (int split = 0; split <= message.Length; split++)
        {
            (Socks5ParseStatus status, Socks5Request request, string parsedHost, _, long consumed) = Request(TestSegment.Sequence(message.AsMemory(0, split), message.AsMemory(split)));
            Assert.Equal(Socks5ParseStatus.Complete, status);
            Assert.Equal(Socks5Command.Connect, request.Command);
            Assert.Equal(host, parsedHost);
            Assert.Equal(port, request.Port);
            Assert.Equal(message.Length, consumed);
        }

        for (int length = 0; length < message.Length; length++)
        {
            Assert.Equal(Socks5ParseStatus.Incomplete, Request(new ReadOnlySequence<byte>(message, 0, length)).Status);
        }
    }

    [Theory]
    [InlineData(new byte[] { 4, 1, 0, 1, 127, 0, 0, 1, 0, 80 }, false)]         // wrong version
    [InlineData(new byte[] { 5, 1, 1, 1, 127, 0, 0, 1, 0, 80 }, false)]         // RSV not zero
    [InlineData(new byte[] { 5, 1, 0, 3, 0, 0, 80 }, false)]                     // domain length 0
    [InlineData(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, 0, 0 }, false)]          // port 0
    [InlineData(new byte[] { 5, 1, 0, 9, 127, 0, 0, 1, 0, 80 }, true)]          // unknown address type
    public void ReadRequest_Malformed_IsInvalid(byte[] message, bool unsupportedAddress)
    {
        (Socks5ParseStatus status, _, _, bool unsupported, _) = Request(new ReadOnlySequence<byte>(message));
        Assert.Equal(Socks5ParseStatus.Invalid, status);
        Assert.Equal(unsupportedAddress, unsupported);
    }

    [Fact]
    public void ReadRequest_BindAndUdp_AreParsed_SoTheyCanBeAnsweredNotSupported()
    {
        (Socks5ParseStatus status, Socks5Request request, _, _, _) = Request(new ReadOnlySequence<byte>([5, 3, 0, 1, 127, 0, 0, 1, 0, 53]));
        Assert.Equal(Socks5ParseStatus.Complete, status);
        Assert.Equal(Socks5Command.UdpAssociate, request.Command);
    }
}
