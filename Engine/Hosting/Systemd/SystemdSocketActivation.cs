using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Engine.Connection;
using Microsoft.Extensions.Logging;

namespace Engine.Hosting.Systemd;

/// <summary>
/// Socket activation (sd_listen_fds(3)): when systemd started this process with listening sockets
/// (<c>LISTEN_PID</c> = our pid, <c>LISTEN_FDS</c> = how many, from fd 3 on), a configured
/// listener whose endpoint matches an inherited socket's local address serves on that socket
/// instead of binding. systemd keeps the socket open across restarts, so connection attempts
/// during a restart wait in its backlog instead of being refused.
/// </summary>
internal static class SystemdSocketActivation
{
    /// <summary>SD_LISTEN_FDS_START: the first passed descriptor.</summary>
    public const int FirstDescriptor = 3;

    // Far more than any unit declares; a garbage LISTEN_FDS must not make us wrap thousands of fds.
    private const int MaxDescriptors = 64;

    /// <summary>
    /// Takes the inherited sockets (once: the variables are unset so children do not see them)
    /// and returns <paramref name="listeners"/> with a matching socket attached where there is one.
    /// Inherited sockets no listener claims are closed and logged.
    /// </summary>
    public static IReadOnlyList<ListenerBinding> Adopt(IReadOnlyList<ListenerBinding> listeners, ILogger logger)
    {
        List<Socket> inherited = TakeInherited(logger);
        if (inherited.Count == 0)
        {
            return listeners;
        }

        var result = new List<ListenerBinding>(listeners.Count);
        foreach (ListenerBinding listener in listeners)
        {
            int match = inherited.FindIndex(s => Matches(listener.EndPoint, (IPEndPoint)s.LocalEndPoint!));
            if (match < 0)
            {
                result.Add(listener);
                continue;
            }

            Socket socket = inherited[match];
            inherited.RemoveAt(match);
            SystemdLog.SocketAdopted(logger, (IPEndPoint)socket.LocalEndPoint!);
            result.Add(listener with { Inherited = socket });
        }

        foreach (Socket unused in inherited)
        {
            SystemdLog.SocketUnused(logger, (IPEndPoint)unused.LocalEndPoint!);
            unused.Dispose();
        }

        return result;
    }

    /// <summary>The listening TCP sockets passed to this process; non-TCP or non-listening ones are skipped and logged.</summary>
    internal static List<Socket> TakeInherited(ILogger logger)
    {
        string? pid = Environment.GetEnvironmentVariable("LISTEN_PID");
        string? fds = Environment.GetEnvironmentVariable("LISTEN_FDS");
        string[] names = Environment.GetEnvironmentVariable("LISTEN_FDNAMES")?.Split(':') ?? [];
        Environment.SetEnvironmentVariable("LISTEN_PID", null);
        Environment.SetEnvironmentVariable("LISTEN_FDS", null);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);

        var sockets = new List<Socket>();
        // The variables may be left over from a parent that was itself activated: only ours count.
        if (pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture)
            || !int.TryParse(fds, NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count <= 0)
        {
            return sockets;
        }

        for (int i = 0; i < Math.Min(count, MaxDescriptors); i++)
        {
            int fd = FirstDescriptor + i;
            string name = i < names.Length ? names[i] : "unknown";
            Socket? socket = TryWrap(fd);
            if (socket is null)
            {
                SystemdLog.SocketSkipped(logger, fd, name);
                continue;
            }

            sockets.Add(socket);
        }

        return sockets;
    }

    private static Socket? TryWrap(int fd)
    {
        Socket socket;
        try
        {
            socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        }
        catch (SocketException)
        {
            return null;   // not a socket at all
        }

        try
        {
            // SO_ACCEPTCONN: a datagram socket or an unlistened stream socket cannot serve clients.
            if (socket.SocketType == SocketType.Stream
                && socket.LocalEndPoint is IPEndPoint
                && socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.AcceptConnection) is int listening && listening != 0)
            {
                return socket;
            }
        }
        catch (SocketException)
        {
        }

        socket.Dispose();
        return null;
    }

    /// <summary>
    /// Same address and port; a configured <c>0.0.0.0:P</c> also takes systemd's default
    /// <c>ListenStream=P</c>, which is a dual-stack <c>[::]:P</c> serving IPv4 too.
    /// </summary>
    internal static bool Matches(IPEndPoint configured, IPEndPoint inherited)
    {
        if (configured.Port != inherited.Port || configured.Port == 0)
        {
            return false;
        }

        IPAddress address = inherited.Address.IsIPv4MappedToIPv6 ? inherited.Address.MapToIPv4() : inherited.Address;
        return address.Equals(configured.Address)
            || (configured.Address.Equals(IPAddress.Any) && address.Equals(IPAddress.IPv6Any));
    }
}
