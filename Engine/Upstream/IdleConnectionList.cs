using System.Net.Sockets;
using Engine.Transport;

namespace Engine.Upstream;

/// <summary>
/// One key's idle sockets, oldest first. A rent takes the newest on its loop, else the newest (the least likely to have been
/// closed by the server); expiry trims the oldest. Guarded by the pool's lock.
/// </summary>
internal sealed class IdleConnectionList
{
    private readonly Entry[] _entries;
    private int _count;

    public IdleConnectionList(int capacity) => _entries = new Entry[capacity];

    public int Count => _count;

    public bool IsFull => _count == _entries.Length;

    /// <summary>Timestamp of the last rent or return, for dropping keys nobody uses.</summary>
    public long LastUsed { get; set; }

    /// <summary>Keeps <paramref name="socket"/> with the time and the count of read edges it came back with.</summary>
    public void Push(TcpSocket socket, long timestamp) => _entries[_count++] = new Entry(socket, timestamp, socket.ReadEdges);

    /// <summary>
    /// Takes the newest socket that waits on <paramref name="loop"/>, the caller's; null when none
    /// does. Off the loops (<paramref name="loop"/> null) the newest. A connection's events all run on
    /// its client's loop thread, one at a time, and its code counts on that: a socket rented from
    /// another loop would run the answer's continuation there while the client's loop runs the
    /// connection's own (2 clients in 1M saw their connection closed unanswered, unpinned).
    /// </summary>
    /// <param name="quiet">No read edge since it came back: nothing (bytes, a FIN) arrived on it meanwhile.</param>
    public TcpSocket? Take(EpollLoop? loop, out long returnedAt, out bool quiet)
    {
        int index = _count - 1;
        if (loop is not null)
        {
            while (index >= 0 && _entries[index].Socket.Loop != loop)
            {
                index--;
            }

            if (index < 0)
            {
                returnedAt = 0;
                quiet = false;
                return null;
            }
        }

        Entry entry = _entries[index];
        _count--;
        Array.Copy(_entries, index + 1, _entries, index, _count - index);
        _entries[_count] = default;
        returnedAt = entry.ReturnedAt;
        quiet = entry.Edges >= 0 && entry.Socket.ReadEdges == entry.Edges;
        return entry.Socket;
    }

    /// <summary>Disposes the sockets returned at or before <paramref name="cutoff"/>; returns how many.</summary>
    public int DisposeExpired(long cutoff)
    {
        int expired = 0;
        while (expired < _count && _entries[expired].ReturnedAt <= cutoff)
        {
            _entries[expired].Socket.Close();
            expired++;
        }

        if (expired > 0)
        {
            Array.Copy(_entries, expired, _entries, 0, _count - expired);
            Array.Clear(_entries, _count - expired, expired);
            _count -= expired;
        }

        return expired;
    }

    public void DisposeAll()
    {
        for (int i = 0; i < _count; i++)
        {
            _entries[i].Socket.Close();
        }

        Array.Clear(_entries, 0, _count);
        _count = 0;
    }

    private readonly record struct Entry(TcpSocket Socket, long ReturnedAt, int Edges);
}
