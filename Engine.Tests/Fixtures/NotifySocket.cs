using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Fixtures;

/// <summary>
/// The receiving end of sd_notify(3) as systemd owns it: a unix datagram socket at a fresh path,
/// one datagram per state change ("READY=1", "WATCHDOG=1", "STOPPING=1"). Give a daemon its
/// <see cref="Path"/> as <c>NOTIFY_SOCKET</c>.
/// </summary>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public NotifySocket()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"notify-{Guid.NewGuid():N}.sock");
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
    }

    public string Path { get; }

    /// <summary>The next datagram, trimmed; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public async Task<string> ReceiveAsync(TimeSpan timeout)
    {
        byte[] buffer = new byte[512];
        int n = await _socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(timeout);
        return Encoding.ASCII.GetString(buffer, 0, n).Trim();
    }

    /// <summary>Datagrams until one equals <paramref name="state"/> (included), within <paramref name="timeout"/> overall.</summary>
    public async Task<List<string>> ReceiveUntilAsync(string state, TimeSpan timeout)
    {
        var received = new List<string>();
        DateTime deadline = DateTime.UtcNow + timeout;
        while (received.Count < 1000)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"no {state} within {timeout}; got [{string.Join(", ", received)}]");
            }

            string message = await ReceiveAsync(left);
            received.Add(message);
            if (message == state)
            {
                return received;
            }
        }

        throw new InvalidOperationException($"no {state} in 1000 datagrams");
    }

    public void Dispose()
    {
        _socket.Dispose();
        File.Delete(Path);
    }
}
