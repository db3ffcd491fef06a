using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Engine.Transport;

/// <summary>
/// The Linux calls the engine's own socket loop makes (<see cref="EpollLoop"/>,
/// <see cref="TcpSocket"/>), and the one map from errno to <see cref="SocketError"/>. x86-64
/// only: <c>struct epoll_event</c> is packed there and aligned elsewhere; other machines keep the
/// runtime's sockets (<see cref="EpollLoop.Enabled"/>).
/// </summary>
internal static unsafe partial class Epoll
{
    public const int EpollIn = 0x001;
    public const int EpollOut = 0x004;
    public const int EpollErr = 0x008;
    public const int EpollHup = 0x010;
    public const int EpollRdHup = 0x2000;
    public const uint EpollEt = 1u << 31;

    private const int EpollCtlAdd = 1;
    private const int EpollCloexec = 0x80000;
    private const int MsgPeek = 0x02;
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int SolSocket = 1;
    private const int SoError = 4;
    private const int FSetFl = 4;
    private const int ORdWr = 2;
    private const int ONonBlock = 0x800;
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int SockStream = 1;
    private const int SockNonBlock = 0x800;
    private const int SockCloexec = 0x80000;
    private const int IpProtoTcp = 6;

    public const int EAgain = 11;
    public const int EInProgress = 115;
    private const int EIntr = 4;
    private const int EfdNonBlock = 0x800;   // O_NONBLOCK
    private const int EfdCloexec = 0x80000;  // O_CLOEXEC

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct Event
    {
        public uint Events;
        public ulong Data;
    }

    public static int Create() => epoll_create1(EpollCloexec);

    /// <summary>Edge-triggered, both directions, for the socket's life (closing the descriptor removes it).</summary>
    public static int Add(int epoll, SafeHandle socket, ulong data)
    {
        var e = new Event { Events = EpollIn | EpollOut | EpollRdHup | EpollEt, Data = data };
        return epoll_ctl(epoll, EpollCtlAdd, socket, &e);
    }

    /// <summary>
    /// An eventfd(2) registered edge-triggered for reading with <paramref name="data"/>: each
    /// <see cref="Ring"/> raises one event on the loop. -1 with the errno pending when it fails.
    /// </summary>
    public static int AddBell(int epoll, ulong data)
    {
        int bell = eventfd(0, EfdNonBlock | EfdCloexec);
        if (bell < 0)
        {
            return -1;
        }

        var e = new Event { Events = EpollIn | EpollEt, Data = data };
        if (epoll_ctl_fd(epoll, EpollCtlAdd, bell, &e) < 0)
        {
            close(bell);
            return -1;
        }

        return bell;
    }

    /// <summary>Adds one to the eventfd's count (a new edge for its loop); false when the write failed.</summary>
    public static bool Ring(int bell)
    {
        ulong one = 1;
        return write(bell, &one, sizeof(ulong)) == sizeof(ulong);
    }

    /// <summary>Takes the eventfd's count back to zero.</summary>
    public static void Quiet(int bell)
    {
        ulong count;
        _ = read(bell, &count, sizeof(ulong));
    }

    public static int Wait(int epoll, Event* events, int capacity)
    {
        while (true)
        {
            int n = epoll_wait(epoll, events, capacity, -1);
            if (n >= 0 || Marshal.GetLastPInvokeError() != EIntr)
            {
                return n;
            }
        }
    }

    /// <summary>Bytes received, 0 at the peer's FIN, -1 with <paramref name="errno"/> set.</summary>
    public static nint Receive(SafeHandle socket, Span<byte> buffer, out int errno)
    {
        nint n;
        fixed (byte* p = buffer)
        {
            n = recv(socket, p, (nuint)buffer.Length, MsgDontWait);
        }

        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        return n;
    }

    /// <summary>1 when a byte is waiting, 0 at the peer's FIN, -1 with <paramref name="errno"/> set: a zero-length recv(2) answers 0 at once on Linux.</summary>
    public static nint Peek(SafeHandle socket, out int errno)
    {
        byte b;
        nint n = recv(socket, &b, 1, MsgDontWait | MsgPeek);
        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        return n;
    }

    public static nint Send(SafeHandle socket, ReadOnlySpan<byte> data, out int errno)
    {
        nint n;
        fixed (byte* p = data)
        {
            n = send(socket, p, (nuint)data.Length, MsgDontWait | MsgNoSignal);
        }

        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        return n;
    }

    /// <summary>
    /// Starts a non-blocking connect: 0 done, else the errno (<see cref="EInProgress"/>: wait until
    /// writable). <paramref name="setNonBlocking"/> for a socket the runtime made, which is blocking
    /// until its first async call and never makes one here; the engine's own are non-blocking from birth.
    /// </summary>
    public static int StartConnect(SafeHandle socket, ReadOnlySpan<byte> address, bool setNonBlocking)
    {
        if (setNonBlocking && fcntl(socket, FSetFl, ORdWr | ONonBlock) != 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        fixed (byte* p = address)
        {
            return connect(socket, p, (uint)address.Length) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>The finished connect's outcome: 0, or its errno.</summary>
    public static int ConnectResult(SafeHandle socket)
    {
        int error = 0;
        uint length = sizeof(int);
        return getsockopt(socket, SolSocket, SoError, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
    }

    /// <summary>Room for <c>sockaddr_in6</c>, the larger of the two.</summary>
    public const int AddressCapacity = 28;

    /// <summary>A TCP socket, non-blocking and close-on-exec from birth (no <c>fcntl</c> later): its descriptor, or -1 with errno set.</summary>
    public static int OpenStream(bool v6) => socket(v6 ? AfInet6 : AfInet, SockStream | SockNonBlock | SockCloexec, IpProtoTcp);

    /// <summary>The next queued connection, non-blocking and close-on-exec: its descriptor and the peer's address, or -1 with errno set.</summary>
    public static int Accept(SafeHandle listening, Span<byte> address, out int length)
    {
        uint size = (uint)address.Length;
        int descriptor;
        fixed (byte* p = address)
        {
            descriptor = accept4(listening, p, &size, SockNonBlock | SockCloexec);
        }

        length = (int)Math.Min(size, (uint)address.Length);
        return descriptor;
    }

    public static int Bind(SafeHandle socket, ReadOnlySpan<byte> address)
    {
        fixed (byte* p = address)
        {
            return bind(socket, p, (uint)address.Length);
        }
    }

    public static int Shutdown(SafeHandle socket, int how) => shutdown(socket, how);

    public static int SetOption(SafeHandle socket, int level, int name, int value) => setsockopt(socket, level, name, &value, sizeof(int));

    /// <summary>SO_LINGER on with a zero timeout: the socket's close then sends a reset, not a FIN.</summary>
    public static int SetLingerZero(SafeHandle socket)
    {
        const int SolSocket = 1, SoLinger = 13;
        long linger = 1;   // struct linger { int l_onoff = 1; int l_linger = 0; }, little-endian
        return setsockopt(socket, SolSocket, SoLinger, (int*)&linger, sizeof(long));
    }

    /// <summary>An int option's value, or -1 when it cannot be read.</summary>
    public static int GetOption(SafeHandle socket, int level, int name)
    {
        int value = 0;
        uint length = sizeof(int);
        return getsockopt(socket, level, name, &value, &length) == 0 ? value : -1;
    }

    public static int Close(int descriptor) => close(descriptor);

    /// <summary>The endpoint in a <c>sockaddr_in</c> or <c>sockaddr_in6</c>; null for any other family.</summary>
    public static System.Net.IPEndPoint? ReadAddress(ReadOnlySpan<byte> address)
    {
        if (address.Length < 16)
        {
            return null;
        }

        ushort family = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(address);
        int port = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
        if (family == AfInet)
        {
            return new System.Net.IPEndPoint(new System.Net.IPAddress(address.Slice(4, 4)), port);
        }

        if (family == AfInet6 && address.Length >= 28)
        {
            uint scope = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(address[24..]);
            return new System.Net.IPEndPoint(new System.Net.IPAddress(address.Slice(8, 16), scope), port);
        }

        return null;
    }

    /// <summary>Writes <c>sockaddr_in</c> or <c>sockaddr_in6</c> for <paramref name="endPoint"/>; returns its length.</summary>
    public static int WriteAddress(System.Net.IPEndPoint endPoint, Span<byte> destination) => WriteAddress(endPoint.Address, endPoint.Port, destination);

    public static int WriteAddress(System.Net.IPAddress address, int port, Span<byte> destination)
    {
        destination.Clear();
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)(v6 ? 10 : 2));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)port);
        if (v6)
        {
            address.TryWriteBytes(destination.Slice(8, 16), out _);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], (uint)address.ScopeId);
            return 28;
        }

        address.TryWriteBytes(destination.Slice(4, 4), out _);
        return 16;
    }

    /// <summary>The runtime's names for the errors a TCP socket reports, so callers see what they saw before.</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        0 => SocketError.Success,
        EAgain => SocketError.WouldBlock,
        9 => SocketError.OperationAborted,       // EBADF: closed under us
        EIntr => SocketError.Interrupted,
        12 => SocketError.NoBufferSpaceAvailable,   // ENOMEM, as the runtime maps it
        22 => SocketError.InvalidArgument,       // EINVAL: e.g. accept on a socket no longer listening
        23 or 24 => SocketError.TooManyOpenSockets,   // ENFILE, EMFILE
        88 => SocketError.NotSocket,             // ENOTSOCK
        98 => SocketError.AddressAlreadyInUse,   // EADDRINUSE (bind)
        13 or 1 => SocketError.AccessDenied,     // EACCES, EPERM
        32 => SocketError.Shutdown,              // EPIPE
        99 => SocketError.AddressNotAvailable,
        100 => SocketError.NetworkDown,
        101 => SocketError.NetworkUnreachable,
        103 => SocketError.ConnectionAborted,
        104 => SocketError.ConnectionReset,
        105 => SocketError.NoBufferSpaceAvailable,
        107 => SocketError.NotConnected,
        110 => SocketError.TimedOut,
        111 => SocketError.ConnectionRefused,
        112 => SocketError.HostDown,
        113 => SocketError.HostUnreachable,
        EInProgress => SocketError.InProgress,
        _ => SocketError.SocketError,
    };

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, SafeHandle fd, Event* e);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int epoll_ctl_fd(int epfd, int op, int fd, Event* e);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epfd, Event* events, int maxevents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(SafeHandle fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(SafeHandle fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(SafeHandle fd, byte* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(SafeHandle fd, int level, int name, int* value, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int accept4(SafeHandle fd, byte* address, uint* length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(SafeHandle fd, byte* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int shutdown(SafeHandle fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(SafeHandle fd, int level, int name, int* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    // fcntl(2) is variadic; on x86-64 an int argument travels in the same register either way.
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(SafeHandle fd, int command, int argument);
}
