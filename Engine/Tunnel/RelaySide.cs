namespace Engine.Tunnel;

/// <summary>
/// One end of a tunnel as the relay sees it: receive (0 = the peer's FIN), send, pass a FIN on,
/// abort. A plain client and every target are sockets (<see cref="SocketSide"/>); a client behind
/// TLS is the decrypted stream's reader and writer (<see cref="PipeSide"/>).
/// </summary>
internal abstract class RelaySide
{
    private volatile bool _endPassedOn;

    protected RelaySide(bool isClient) => IsClient = isClient;

    /// <summary>Which end a failure blames: the client (ClientAbort) or the target (TargetAbort).</summary>
    public bool IsClient { get; }

    /// <summary>
    /// The other end's FIN was passed on to this one: its stream is complete, and a failure after
    /// that must not reset it (a reset would drop the stream's tail still queued in the kernel).
    /// </summary>
    public bool EndPassedOn => _endPassedOn;

    /// <summary>Passes the other end's FIN on (<see cref="ShutdownSend"/>) and remembers that it did.</summary>
    public void PassEndOn(bool closing)
    {
        _endPassedOn = true;
        ShutdownSend(closing);
    }

    /// <summary>For an end reused by the next tunnel.</summary>
    protected void ResetEnd() => _endPassedOn = false;

    /// <summary>Bytes received into <paramref name="buffer"/>; 0 means the end (for an empty buffer: data is waiting).</summary>
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer);

    /// <summary>
    /// Waits until data is there, without a buffer of the caller's; where the end is a socket on the
    /// engine's loop the bytes are received into <paramref name="sink"/> at the edge (with the rest
    /// of the loop's batch). 0 when the wait is over; what a sink's receive met is the sink's.
    /// </summary>
    public virtual ValueTask<int> WaitForDataAsync(Transport.IReceiveSink sink) => ReceiveAsync(Memory<byte>.Empty);

    /// <summary>Sends all of <paramref name="data"/>; throws when the end can no longer be written to.</summary>
    public abstract ValueTask<int> SendAsync(ReadOnlyMemory<byte> data);

    /// <summary>
    /// Passes the other end's FIN on (half-close); never throws. <paramref name="closing"/>: the
    /// other direction has ended too, so the tunnel ends here; a socket is then closed at once and
    /// its close sends the FIN (everything it received was read, so not a reset): one
    /// <c>shutdown</c> per tunnel less than a shutdown followed by the owner's close.
    /// </summary>
    public abstract void ShutdownSend(bool closing);

    /// <summary>
    /// Ends pending and future I/O at once; never throws. <paramref name="reset"/>: the other end
    /// reset, and this one is to see a reset too rather than a FIN that would read as a complete
    /// stream (a socket end only; it drops what the kernel has not sent yet).
    /// </summary>
    public abstract void Abort(bool reset);
}
