using System.Net;
using System.Net.Sockets;

namespace Engine.Tests.Fixtures;

internal static class TestPorts
{
    /// <summary>A loopback port nothing listens on: bound for a moment, never listened on, released.</summary>
    public static int Closed()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
