using System.Buffers;
using System.Net;
using Engine.Transport;

namespace Engine.Fuzz;

/// <summary>
/// The PROXY protocol header a load balancer puts in front of a connection (v1 text, v2 binary),
/// fed whole and in two segments. Invalid is the parser's answer; an exception, a Complete that
/// consumed nothing or more than it was given, a prefix of a Complete header that is not
/// Incomplete, or a split that changes the outcome is a crash.
/// </summary>
internal static class ProxyHeaderTarget
{
    public const string Name = "proxyheader";

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (!FuzzInput.TryRead(input, out FuzzInput parsed))
        {
            return;
        }

        byte[] data = parsed.Data.ToArray();
        string whole = Describe(new ReadOnlySequence<byte>(data), data.Length, out ProxyHeaderStatus status, out int consumed);
        string split = Describe(FuzzSegment.Split(data, parsed.Split), data.Length, out _, out _);
        InvariantViolationException.ThrowIfDifferent(whole, split, $"split at {parsed.Split}");
        if (status == ProxyHeaderStatus.Complete)
        {
            // Every shorter prefix of a complete header must ask for more, never decide.
            for (int length = 0; length < consumed; length++)
            {
                ProxyHeaderStatus prefix = ProxyProtocolHeader.TryParse(new ReadOnlySequence<byte>(data, 0, length), out _, out _);
                InvariantViolationException.ThrowIf(prefix != ProxyHeaderStatus.Incomplete, $"prefix of {length} bytes: {prefix}");
            }
        }
    }

    private static string Describe(ReadOnlySequence<byte> buffer, int length, out ProxyHeaderStatus status, out int consumed)
    {
        status = ProxyProtocolHeader.TryParse(buffer, out consumed, out IPEndPoint? source);
        if (status == ProxyHeaderStatus.Complete)
        {
            InvariantViolationException.ThrowIf(consumed < 8 || consumed > length, $"consumed {consumed} of {length}");
        }
        else
        {
            InvariantViolationException.ThrowIf(consumed != 0, $"{status} consumed {consumed}");
        }

        return $"{status} {consumed} {source}";
    }
}
