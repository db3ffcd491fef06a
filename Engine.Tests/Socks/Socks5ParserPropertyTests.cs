using System.Buffers;
using System.Text;
using CsCheck;
using Engine.Socks;
using Engine.Tests.Http;

namespace Engine.Tests.Socks;

/// <summary>
/// Random handshakes read as the connection reads them (greeting, username/password when offered,
/// request): fed whole or split in two at any position, the outcome is the same, Incomplete never
/// consumes, and nothing escapes but the parser's own Invalid.
/// </summary>
public class Socks5ParserPropertyTests
{
    /// <summary>Handshakes built from plausible fields, including zero lengths, bad versions and unknown address types.</summary>
    private static readonly Gen<byte[]> Handshake =
        Gen.Select(
            Gen.OneOf(Gen.Const((byte)5), Gen.Byte),
            Gen.Byte[0, 3].SelectMany(n => Gen.OneOf(Gen.Const((byte)0), Gen.Const((byte)2), Gen.Byte).Array[n, n]),
            Gen.Bool,
            Gen.Byte.Array[0, 20],
            Gen.Byte.Array[0, 20],
            Gen.OneOf(Gen.Const((byte)1), Gen.Const((byte)3), Gen.Const((byte)4), Gen.Byte),
            Gen.Byte.Array[0, 40],
            Gen.UShort)
        .Select(t =>
        {
            var bytes = new List<byte> { t.Item1, (byte)t.Item2.Length };
            bytes.AddRange(t.Item2);
            if (t.Item3)
            {
                bytes.AddRange([1, (byte)t.Item4.Length, .. t.Item4, (byte)t.Item5.Length, .. t.Item5]);
            }

            bytes.AddRange([5, 1, 0, t.Item6]);
            if (t.Item6 == 3)
            {
                bytes.Add((byte)t.Item7.Length);
            }

            bytes.AddRange(t.Item7);
            bytes.AddRange([(byte)(t.Item8 >> 8), (byte)t.Item8]);
            return bytes.ToArray();
        });

    [Fact]
    public void Read_RandomBytesSplitAnywhere_SameOutcomeAsWhole() =>
        Gen.Byte.Array[0, 64].SelectMany(bytes => Gen.Int[0, bytes.Length].Select(split => (bytes, split)))
            .Sample(t => Assert.Equal(Drive(t.bytes, t.bytes.Length), Drive(t.bytes, t.split)), iter: 10_000, print: Print);

    [Fact]
    public void Read_HandshakeSplitAnywhere_SameOutcomeAsWhole() =>
        Handshake.SelectMany(bytes => Gen.Int[0, bytes.Length].Select(split => (bytes, split)))
            .Sample(t => Assert.Equal(Drive(t.bytes, t.bytes.Length), Drive(t.bytes, t.split)), iter: 10_000, print: Print);

    private enum Phase
    {
        Greeting,
        UserPass,
        Request,
    }

    /// <summary>Two segments cut at <paramref name="split"/>; the first arrives alone, then the rest.</summary>
    private static string Drive(byte[] bytes, int split)
    {
        ReadOnlySequence<byte> all = TestSegment.Chain(bytes, [split]);
        var log = new StringBuilder();
        byte[] user = new byte[255];
        byte[] password = new byte[255];
        byte[] host = new byte[Socks5Parser.MaxHostLength];
        Phase phase = Phase.Greeting;
        long consumed = 0;
        foreach (int available in new[] { split, bytes.Length })
        {
            var reader = new SequenceReader<byte>(all.Slice(consumed, available - consumed));
            while (true)
            {
                long before = reader.Consumed;
                Socks5ParseStatus status;
                if (phase == Phase.Greeting)
                {
                    status = Socks5Parser.ReadGreeting(ref reader, out bool noAuth, out bool userPass);
                    if (status == Socks5ParseStatus.Complete)
                    {
                        log.Append($" greeting {noAuth} {userPass}");
                        phase = userPass ? Phase.UserPass : Phase.Request;
                    }
                }
                else if (phase == Phase.UserPass)
                {
                    status = Socks5Parser.ReadUserPass(ref reader, user, password, out int userLength, out int passwordLength);
                    if (status == Socks5ParseStatus.Complete)
                    {
                        log.Append($" user {Convert.ToHexString(user, 0, userLength)} {Convert.ToHexString(password, 0, passwordLength)}");
                        phase = Phase.Request;
                    }
                }
                else
                {
                    status = Socks5Parser.ReadRequest(ref reader, host, out Socks5Request request, out bool unsupported);
                    if (status == Socks5ParseStatus.Complete)
                    {
                        return log.Append($" request {request} {Encoding.Latin1.GetString(host, 0, request.HostLength)} @{consumed + reader.Consumed}").ToString();
                    }

                    log.Append(status == Socks5ParseStatus.Invalid ? $" unsupported={unsupported}" : string.Empty);
                }

                if (status == Socks5ParseStatus.Invalid)
                {
                    return log.Append($" invalid in {phase}").ToString();
                }

                if (status == Socks5ParseStatus.Incomplete)
                {
                    Assert.Equal(before, reader.Consumed);
                    break;
                }
            }

            consumed += reader.Consumed;
        }

        return log.Append($" incomplete in {phase} @{consumed}").ToString();
    }

    private static string Print((byte[] Bytes, int Split) t) => $"split {t.Split} of {Convert.ToHexString(t.Bytes)}";
}
