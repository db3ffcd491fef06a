using System.Buffers;
using System.IO.Pipelines;
using Engine.Errors;
using Engine.Http;
using Engine.Socks;

namespace Engine.Tests.Socks;

/// <summary>A malformed SOCKS5 request is answered REP 0x01 (general failure) before the close (errors.md, SOCKS5 table: BAD_REQUEST).</summary>
public class MalformedRequestReplyTests
{
    private sealed class AcceptAll : ISocks5Authenticator
    {
        public ValueTask<ErrorCode> AuthenticateAsync(ReadOnlyMemory<byte> user, ReadOnlyMemory<byte> password, bool credentialsOffered) =>
            ValueTask.FromResult(ErrorCode.None);
    }

    // docs/errors.md "SOCKS5" table: BAD_REQUEST is found at the request (RFC 1928) and answered
    // "REP 0x01 general failure"; RFC 1928 §6: the server replies, then closes.
    [Theory]
    [InlineData(new byte[] { 5, 1, 0, 3, 0, 0, 80 })]                  // domain length 0
    [InlineData(new byte[] { 5, 1, 1, 1, 127, 0, 0, 1, 0, 80 })]       // RSV not zero
    [InlineData(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, 0, 0 })]        // port 0
    public async Task MalformedRequest_IsAnsweredWithGeneralFailure(byte[] request)
    {
        var fromClient = new Pipe();
        var toClient = new Pipe();
        await fromClient.Writer.WriteAsync(new byte[] { 5, 1, 0 });
        await fromClient.Writer.WriteAsync(request);
        await fromClient.Writer.CompleteAsync();

        Socks5HandshakeResult result = await new Socks5Handshake(fromClient.Reader, toClient.Writer)
            .RunAsync(new AcceptAll(), new RequestHead(), CancellationToken.None);
        toClient.Writer.Complete();
        Assert.True(toClient.Reader.TryRead(out ReadResult read));
        byte[] replies = read.Buffer.ToArray();

        Assert.Equal(Socks5HandshakeStatus.Refused, result.Status);
        Assert.Equal(ErrorCode.BadRequest, result.Error);
        Assert.Equal([5, 0, 5, (byte)Socks5Reply.GeneralFailure, 0, 1, 0, 0, 0, 0, 0, 0], replies);
        Assert.Equal(12, result.BytesOut);
    }
}
