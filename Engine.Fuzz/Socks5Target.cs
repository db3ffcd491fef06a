using System.Buffers;
using System.Text;

using Engine.Socks;

namespace Engine.Fuzz;

/// <summary>
/// The client's side of a SOCKS5 handshake in the order the connection reads it: greeting, then
/// username/password when offered, then the request; fed whole and in two segments whose first
/// arrives alone. Invalid is the parser's answer; an exception, an Incomplete that consumed bytes,
/// or a split that changes the outcome is a crash.
/// </summary>
internal static class Socks5Target
{
    public const string Name = "socks5";

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (!FuzzInput.TryRead(input, out FuzzInput parsed))
        {
            return;
        }

        byte[] data = parsed.Data.ToArray();
        string whole = Drive(new ReadOnlySequence<byte>(data), [data.Length]);
        string split = Drive(FuzzSegment.Split(data, parsed.Split), [parsed.Split, data.Length]);
        InvariantViolationException.ThrowIfDifferent(whole, split, $"split at {parsed.Split}");
    }

    private enum Phase
    {
        Greeting,
        UserPass,
        Request,
    }

    private static string Drive(ReadOnlySequence<byte> all, int[] availability)
    {
        var log = new StringBuilder();
        byte[] user = new byte[255];
        byte[] password = new byte[255];
        byte[] host = new byte[Socks5Parser.MaxHostLength];
        Phase phase = Phase.Greeting;
        long consumed = 0;
        foreach (int available in availability)
        {
            var reader = new SequenceReader<byte>(all.Slice(consumed, available - consumed));
            while (true)
            {
                long before = reader.Consumed;
                Socks5ParseStatus status;
                switch (phase)
                {
                    case Phase.Greeting:
                        status = Socks5Parser.ReadGreeting(ref reader, out bool noAuth, out bool userPass);
                        if (status == Socks5ParseStatus.Complete)
                        {
                            log.Append(" greeting noauth=").Append(noAuth).Append(" userpass=").Append(userPass);
                            phase = userPass ? Phase.UserPass : Phase.Request;
                        }

                        break;
                    case Phase.UserPass:
                        status = Socks5Parser.ReadUserPass(ref reader, user, password, out int userLength, out int passwordLength);
                        if (status == Socks5ParseStatus.Complete)
                        {
                            log.Append(" user=").Append(Convert.ToHexString(user, 0, userLength)).Append(" password=").Append(Convert.ToHexString(password, 0, passwordLength));
                            phase = Phase.Request;
                        }

                        break;
                    default:
                        status = Socks5Parser.ReadRequest(ref reader, host, out Socks5Request request, out bool unsupported);
                        if (status == Socks5ParseStatus.Complete)
                        {
                            InvariantViolationException.ThrowIf(request.HostLength is < 1 or > Socks5Parser.MaxHostLength, $"host length {request.HostLength}");
                            log.Append(" request ").Append(request.Command).Append(' ').Append(request.AddressType)
                                .Append(' ').Append(Convert.ToHexString(host, 0, request.HostLength)).Append(':').Append(request.Port);
                            return log.Append(" @").Append(consumed + reader.Consumed).ToString();
                        }

                        if (status == Socks5ParseStatus.Invalid)
                        {
                            log.Append(" unsupported=").Append(unsupported);
                        }

                        break;
                }

                if (status == Socks5ParseStatus.Invalid)
                {
                    return log.Append(" invalid in ").Append(phase).ToString();
                }

                if (status == Socks5ParseStatus.Incomplete)
                {
                    // RFC 1928 messages are consumed whole or not at all.
                    InvariantViolationException.ThrowIf(reader.Consumed != before, $"Incomplete {phase} consumed bytes");
                    break;
                }
            }

            consumed += reader.Consumed;
        }

        return log.Append(" incomplete in ").Append(phase).Append(" @").Append(consumed).ToString();
    }
}
