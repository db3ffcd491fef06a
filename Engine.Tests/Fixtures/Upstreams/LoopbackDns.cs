using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Engine.Tests.Fixtures.Upstreams;

/// <summary>
/// A resolver on 127.0.0.1:53 (UDP) that answers NXDOMAIN to every query, so the proxies under test
/// resolve <c>name.invalid</c> without any packet leaving loopback (the machine's own resolver is
/// not on loopback, and tests talk to 127.0.0.1 only). Squid is pointed at it with dns_nameservers;
/// the libc-resolving proxies (tinyproxy, microsocks, dante) run in a private mount namespace
/// (<c>unshare -m</c>, root) whose /etc/resolv.conf names it. Started once per test process;
/// SO_REUSEPORT lets two concurrent test processes each bind it (both answer the same).
/// </summary>
internal static class LoopbackDns
{
    public static readonly IPAddress Address = IPAddress.Loopback;

    private static readonly Lazy<string?> Started = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Null when name.invalid tests can run hermetically, otherwise why not.</summary>
    public static string? UnavailableReason => Started.Value;

    /// <summary>
    /// The command prefix that runs a program with this resolver in /etc/resolv.conf (the program is
    /// exec'd, so its PID is the wrapper's), or null when hermetic DNS is unavailable.
    /// </summary>
    public static (string FileName, string[] Arguments)? NamespaceWrapper(string directory)
    {
        if (UnavailableReason is not null || UpstreamProcess.FindOnPath("unshare") is not { } unshare)
        {
            return null;
        }

        string resolvConf = Path.Combine(directory, "resolv.conf");
        File.WriteAllText(resolvConf, $"nameserver {Address}\noptions timeout:1 attempts:1\n");
        return (unshare, ["-m", "--", "/bin/sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"", resolvConf]);
    }

    private static string? Start()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            // SO_REUSEPORT (Linux: SOL_SOCKET 1, option 15).
            socket.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
            socket.Bind(new IPEndPoint(Address, 53));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            return $"cannot bind the loopback resolver on {Address}:53 ({e.SocketErrorCode}); name.invalid lookups would leave loopback";
        }

        _ = Task.Run(() => AnswerAsync(socket));
        return ProbeNamespace();
    }

    private static async Task AnswerAsync(Socket socket)
    {
        byte[] buffer = new byte[512];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (true)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            if (received.ReceivedBytes < 12)
            {
                continue;
            }

            // RFC 1035 §4.1.1: same ID and question; QR=1, RD copied, RA=1, RCODE=3 (NXDOMAIN), no records.
            buffer[2] = (byte)(0x80 | (buffer[2] & 0x01));
            buffer[3] = 0x83;
            buffer.AsSpan(6, 6).Clear();
            try
            {
                await socket.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, received.RemoteEndPoint);
            }
            catch (SocketException)
            {
                // The asker went away; keep serving the others.
            }
        }
    }

    private static string? ProbeNamespace()
    {
        if (UpstreamProcess.FindOnPath("unshare") is not { } unshare)
        {
            return "unshare is not on PATH: the proxies' libc resolver cannot be pointed at the loopback resolver";
        }

        string directory = Directory.CreateTempSubdirectory("dns-probe-").FullName;
        try
        {
            string resolvConf = Path.Combine(directory, "resolv.conf");
            File.WriteAllText(resolvConf, $"nameserver {Address}\n");
            var info = new ProcessStartInfo(unshare)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (string argument in new[] { "-m", "--", "/bin/sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && grep -q '^nameserver 127.0.0.1$' /etc/resolv.conf", resolvConf })
            {
                info.ArgumentList.Add(argument);
            }

            using Process probe = Process.Start(info)!;
            if (!probe.WaitForExit(5000))
            {
                probe.Kill();
                return "unshare -m did not finish within 5 s";
            }

            return probe.ExitCode == 0
                ? null
                : $"a private mount namespace is not available (unshare -m exited {probe.ExitCode}: {probe.StandardError.ReadToEnd().Trim()})";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return $"unshare -m failed: {e.Message}";
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
