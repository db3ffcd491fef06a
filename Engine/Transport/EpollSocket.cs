using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Engine.Transport;

/// <summary>
/// A runtime <see cref="Socket"/> whose bytes move through the engine's own loop
/// (<see cref="EpollLoop"/>): the socket keeps doing what it does well (options, addresses,
/// shutdown, close) and never starts an async operation, so the runtime makes no context for it
/// and never registers it with its own epoll. Found by descriptor in one process-wide table, as
/// HAProxy's fdtab; a socket closed without <see cref="Close"/> leaves a stale entry that the next
/// socket with its number replaces.
/// </summary>
internal sealed class EpollSocket
{
    private static readonly Lock s_adopt = new();
    private static EpollSocket?[] s_byDescriptor = new EpollSocket?[1024];
    private static int s_generations;

    private readonly Socket _socket;
    private readonly SafeSocketHandle _handle;
    private readonly int _descriptor;
    private readonly uint _generation;   // in the event's data with the descriptor: an event for a closed socket's number finds another generation
    private int _registered;
    private volatile bool _closed;

    private EpollSocket(Socket socket, SafeSocketHandle handle, int descriptor)
    {
        _socket = socket;
        _handle = handle;
        _descriptor = descriptor;
        _generation = (uint)Interlocked.Increment(ref s_generations);
        Reader = new EpollOperation(this, isReader: true);
        Writer = new EpollOperation(this, isReader: false);
    }

    public EpollOperation Reader { get; }

    public EpollOperation Writer { get; }

    internal SafeSocketHandle Handle => _handle;

    internal bool IsClosed => _closed;

    /// <summary>No error, reset or FIN seen and not closed: a pooled upstream connection may be offered again.</summary>
    public bool IsOpen => !_closed && !Reader.HungUp && !Writer.HungUp;

    public static EpollSocket For(Socket socket) => Find(socket) ?? Adopt(socket, socket.SafeHandle, (int)socket.SafeHandle.DangerousGetHandle());

    /// <summary>The entry of <paramref name="socket"/> if it has one (it moved bytes through the loop).</summary>
    public static EpollSocket? Find(Socket socket)
    {
        int descriptor = (int)socket.SafeHandle.DangerousGetHandle();
        EpollSocket?[] table = Volatile.Read(ref s_byDescriptor);
        return (uint)descriptor < (uint)table.Length && table[descriptor] is { } known && ReferenceEquals(known._socket, socket) ? known : null;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static EpollSocket Adopt(Socket socket, SafeSocketHandle handle, int descriptor)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed || handle.IsInvalid, socket);

        lock (s_adopt)
        {
            EpollSocket?[] table = s_byDescriptor;
            if (descriptor >= table.Length)
            {
                Array.Resize(ref table, Math.Max(table.Length * 2, descriptor + 1));
                Volatile.Write(ref s_byDescriptor, table);
            }

            EpollSocket? previous = table[descriptor];
            if (previous is not null)
            {
                if (ReferenceEquals(previous._socket, socket))
                {
                    return previous;
                }

                // A live socket holds the number: ours was closed after the check above.
                ObjectDisposedException.ThrowIf(!previous._handle.IsClosed, socket);

                previous.Abandon();   // closed without Close: wake whatever still waits on it
            }

            var adopted = new EpollSocket(socket, handle, descriptor);
            Volatile.Write(ref table[descriptor], adopted);
            return adopted;
        }
    }

    /// <summary>
    /// Closes <paramref name="socket"/> and ends its waiting operations with
    /// <see cref="SocketError.OperationAborted"/>, as the runtime does for its own: closing a
    /// descriptor takes it out of epoll silently, so a waiter would otherwise wait forever.
    /// </summary>
    public static void Close(Socket socket)
    {
        EpollSocket? entry = Find(socket);
        if (entry is null)
        {
            socket.Dispose();
            return;
        }

        entry._closed = true;   // from here a new operation fails at once
        socket.Dispose();
        entry.Abandon();
        lock (s_adopt)
        {
            EpollSocket?[] table = s_byDescriptor;
            if (ReferenceEquals(table[entry._descriptor], entry))
            {
                table[entry._descriptor] = null;
            }
        }
    }

    /// <summary>Runs on a loop's thread for each event.</summary>
    public static void Dispatch(ulong data, uint events)
    {
        int descriptor = (int)(uint)data;
        EpollSocket?[] table = Volatile.Read(ref s_byDescriptor);
        if ((uint)descriptor < (uint)table.Length && table[descriptor] is { } entry && entry._generation == (uint)(data >> 32))
        {
            entry.OnEvents(events);
        }
    }

    private void OnEvents(uint events)
    {
        // A FIN ends reading only; an error or a hang-up (both directions gone) ends both.
        if ((events & (Epoll.EpollIn | Epoll.EpollErr | Epoll.EpollHup | Epoll.EpollRdHup)) != 0)
        {
            Reader.Signal(hangUp: (events & (Epoll.EpollErr | Epoll.EpollHup | Epoll.EpollRdHup)) != 0);
        }

        if ((events & (Epoll.EpollOut | Epoll.EpollErr | Epoll.EpollHup)) != 0)
        {
            Writer.Signal(hangUp: (events & (Epoll.EpollErr | Epoll.EpollHup)) != 0);
        }
    }

    /// <summary>Joins a loop before the first wait: epoll reports a socket that is ready when it joins, so nothing that came earlier is missed.</summary>
    internal void Register()
    {
        if (Volatile.Read(ref _registered) != 0 || Interlocked.Exchange(ref _registered, 1) != 0)
        {
            return;
        }

        int result;
        try
        {
            result = Epoll.Add(EpollLoop.Next().Descriptor, _handle, ((ulong)_generation << 32) | (uint)_descriptor);
        }
        catch (ObjectDisposedException)
        {
            Abandon();
            throw;
        }

        if (result != 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            Abandon();   // the other direction may already be waiting for a loop it will never join
            throw new SocketException((int)Epoll.ToSocketError(errno));
        }
    }

    private void Abandon()
    {
        _closed = true;
        Reader.Abort();
        Writer.Abort();
    }

    /// <summary>
    /// Completes when the listening socket has a connection queued: at once when <c>poll(2)</c>
    /// says so, else at the loop's next edge. The accept that follows then completes on the
    /// caller's thread — the loop's — and the new connection runs there to its first wait,
    /// instead of starting on the runtime's socket thread and moving to a loop's (a context switch
    /// per tunnel: 0.50 against 0.13 before accepts moved here).
    /// </summary>
    public ValueTask<int> WaitForConnectionAsync()
    {
        int edges = Reader.Edges;
        return _socket.Poll(0, SelectMode.SelectRead) ? new ValueTask<int>(0) : Reader.WaitReadableAsync(edges);
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token) => Reader.ReceiveAsync(buffer, token);

    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> data, CancellationToken token) => Writer.SendAsync(data, token);

    public ValueTask<int> ConnectAsync(IPEndPoint endPoint, CancellationToken token)
    {
        Span<byte> address = stackalloc byte[28];
        int length = Epoll.WriteAddress(endPoint, address);
        return Writer.ConnectAsync(address[..length], token);
    }
}
