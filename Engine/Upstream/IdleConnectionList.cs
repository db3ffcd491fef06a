using System.Net.Sockets;
using Engine.Transport;

namespace Engine.Upstream;

/// <summary>
/// One key's idle sockets, oldest first. Rent takes the newest (the least likely to have been
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

    public void Push(TcpSocket socket, long timestamp) => _entries[_count++] = new Entry(socket, timestamp);

    public TcpSocket PopNewest(out long returnedAt)
    {
        Entry entry = _entries[--_count];
        _entries[_count] = default;
        returnedAt = entry.ReturnedAt;
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

    private readonly record struct Entry(TcpSocket Socket, long ReturnedAt);
}
