namespace Engine.Transport;

/// <summary>
/// Where a zero-byte wait's bytes go when the loop receives them at the edge
/// (<see cref="TcpSocket.WaitForDataAsync"/>): the reader that waits hands over its buffer space,
/// so the receive happens in the loop's first phase with every other ready socket's, and the wait
/// ends with the bytes already buffered.
/// </summary>
/// <remarks>
/// Called on the loop's thread while the owner is suspended in the wait, never concurrently with it.
/// </remarks>
internal interface IReceiveSink
{
    /// <summary>Room to receive into; taken from a pool now, as nothing is buffered while a reader waits. Empty: nothing is received, the wait just ends.</summary>
    Memory<byte> ReceiveBuffer();

    /// <summary>
    /// What the receive into <see cref="ReceiveBuffer"/> (of <paramref name="asked"/> bytes) gave:
    /// bytes (&gt; 0), the peer's FIN (0), or -1 with <paramref name="errno"/> (EAGAIN: nothing
    /// there after all; the room goes back to the pool, the wait goes on). An error is the reader's
    /// to report at its next read, as its own receive would have.
    /// </summary>
    void Received(int count, int asked, int errno);
}
