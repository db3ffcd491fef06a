using System.Buffers;
using System.Net.Sockets;
using Engine.Diagnostics;
using Engine.Transport;

namespace Engine.Tunnel;

internal sealed partial class TunnelRelay
{
    /// <summary>
    /// One direction of the tunnel, as an explicit state machine (what an async method would
    /// compile to, without its box and task held for the tunnel's life): wait → receive → send →
    /// wait. Each pending operation resumes <see cref="Run"/> through one cached delegate.
    /// </summary>
    private sealed class Flow : IReceiveSink
    {
        // A burst starts in a 4 KiB block and moves to a 32 KiB one once a read fills it: 4 KiB
        // reads throughout cost a syscall per 4 KiB and held a 1.6 GB/s loopback link to ~290
        // MB/s, while 32 KiB for every read made each small exchange (a probe, a TLS handshake
        // record) take a large block, and a burst of them left the pool holding ~32 KiB per
        // tunnel (10.4 KiB RSS per idle tunnel after 2,000 probed ones, ../shared/bench/peers).

        private readonly TunnelRelay _relay;
        private readonly Action _resume;
        private RelaySide _from = null!;
        private RelaySide _to = null!;
        private Step _step;
        private ValueTask<int> _pending;
        private BlockMemoryPool.Block? _owner;
        private Memory<byte> _buffer;
        private int _received;
        private int _edgeReceived = -1;   // what the loop received at the edge into _buffer (IReceiveSink): -1 nothing
        private int _edgeError;           // the errno that receive met
        private bool _streaming;
        private long _bytes;

        public Flow(TunnelRelay relay)
        {
            _relay = relay;
            _resume = Run;
        }

        public void Attach(RelaySide from, RelaySide to)
        {
            _from = from;
            _to = to;
            _step = Step.Wait;
            _pending = default;
            _received = 0;
            _edgeReceived = -1;
            _edgeError = 0;
            _streaming = false;
            _bytes = 0;
        }

        public void Detach()
        {
            _from = null!;
            _to = null!;
        }

        private enum Step : byte
        {
            Wait,
            Waited,
            Receive,
            Received,
            Relay,
            Sent,
            Done,
        }

        public long Bytes => Volatile.Read(ref _bytes);

        public void Start() => Run();

        private void Run()
        {
            try
            {
                while (true)
                {
                    switch (_step)
                    {
                        case Step.Wait:
                            if (_relay.HasFailed)
                            {
                                // Aborted: an end that only cancels its pending read (a pipe)
                                // would otherwise take the next one.
                                ReturnBuffer();
                                Finish();
                                return;
                            }

                            // Zero-byte receive first: an idle direction waits without a buffer. Not
                            // while a download streams: a read that filled the whole block left more
                            // in the socket, and the wait would only add a syscall per 32 KiB.
                            if (_streaming)
                            {
                                _step = Step.Receive;
                                break;
                            }

                            _step = Step.Waited;
                            if (Pending(_from.WaitForDataAsync(this)))
                            {
                                return;
                            }

                            break;

                        case Step.Waited:
                            Collect();
                            if (_relay.HasFailed)
                            {
                                _step = Step.Wait;
                            }
                            else if (TakeEdgeReceive(out _received))
                            {
                                _step = Step.Relay;   // the loop received at the edge: no read of our own
                            }
                            else
                            {
                                _step = Step.Receive;
                            }

                            break;

                        case Step.Receive:
                            if (_owner is null)
                            {
                                Rent();
                            }

                            _step = Step.Received;
                            if (Pending(_from.ReceiveAsync(_buffer)))
                            {
                                return;
                            }

                            break;

                        case Step.Received:
                            _received = Collect();
                            goto case Step.Relay;

                        case Step.Relay:
                            if (_received == 0)
                            {
                                // FIN: pass it on so the other side sees the end (half-close).
                                ReturnBuffer();
                                _to.PassEndOn(closing: _relay.OtherFlowEnded);
                                Finish();
                                return;
                            }

                            _streaming = _received == _buffer.Length;
                            Interlocked.Add(ref _bytes, _received);
                            _relay.Moved();
                            _step = Step.Sent;
                            if (Pending(_to.SendAsync(_buffer[.._received])))
                            {
                                return;
                            }

                            break;

                        case Step.Sent:
                            Collect();
                            if (!_streaming || _buffer.Length < BlockMemoryPool.LargeBlock)
                            {
                                ReturnBuffer();   // streaming in a small block: the next read takes a large one
                            }

                            _step = Step.Wait;
                            break;

                        default:
                            return;
                    }
                }
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
                // Sending failed: the end written to broke. Otherwise the end read from did.
                RelaySide broken = _step == Step.Sent ? _to : _from;
                ReturnBuffer();
                _relay.Fail(broken.IsClient ? TerminationCause.ClientAbort : TerminationCause.TargetAbort);
                Finish();
            }
        }

        // True when the operation is still running: Run resumes when it completes.
        private bool Pending(ValueTask<int> operation)
        {
            _pending = operation;
            if (operation.IsCompleted)
            {
                return false;
            }

            operation.GetAwaiter().UnsafeOnCompleted(_resume);
            return true;
        }

        private int Collect()
        {
            ValueTask<int> operation = _pending;
            _pending = default;
            return operation.GetAwaiter().GetResult();
        }

        Memory<byte> IReceiveSink.ReceiveBuffer()
        {
            if (_owner is null)
            {
                Rent();
            }

            return _buffer;
        }

        void IReceiveSink.Received(int count, int asked, int errno)
        {
            if (count >= 0)
            {
                _edgeReceived = count;
                return;
            }

            _edgeError = errno == Epoll.EAgain ? 0 : errno;
            ReturnBuffer();   // nothing came: an idle direction keeps no buffer
        }

        /// <summary>What the loop received at the edge (bytes, or 0 for the FIN); throws what it met; false when it received nothing.</summary>
        private bool TakeEdgeReceive(out int received)
        {
            received = _edgeReceived;
            _edgeReceived = -1;
            if (_edgeError != 0)
            {
                int errno = _edgeError;
                _edgeError = 0;
                throw new SocketException((int)Epoll.ToSocketError(errno));
            }

            return received >= 0;
        }

        private void Rent()
        {
            BlockMemoryPool.Block owner = BlockMemoryPool.Instance.RentBlock(_streaming ? BlockMemoryPool.LargeBlock : BlockMemoryPool.SmallBlock);
            _owner = owner;
            _buffer = owner.Memory;
        }

        private void ReturnBuffer()
        {
            _owner?.Dispose();
            _owner = null;
            _buffer = default;
        }

        private void Finish()
        {
            _step = Step.Done;
            _relay.FlowEnded();
        }
    }
}
