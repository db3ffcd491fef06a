using System.Buffers;

namespace Engine.Transport;

/// <summary>
/// Memory for the connections' buffers, without allocating per rent. <see cref="MemoryPool{T}.Shared"/>
/// wraps every rented array in a new owner object: one per pipe segment, which measured ~2.4 KB per
/// MiB relayed through a tunnel. Here the owners themselves are pooled (Kestrel's
/// PinnedBlockMemoryPool does the same), in two block sizes: 4 KiB for request heads and small
/// reads, 32 KiB for bulk relay reads. Larger requests fall back to plain arrays.
/// </summary>
/// <remarks>
/// A few blocks per thread sit in front of the shared queues, last in first out: an event loop
/// returns a connection's block and rents one for the next connection it serves microseconds
/// later, and gets the block still in its cache back instead of the coldest one of a queue of
/// thousands (the queue alone was ~1 % of a keep-alive GET's CPU in its count, enqueue and dequeue,
/// beside the cache misses of a cold block).
/// </remarks>
internal sealed class BlockMemoryPool : MemoryPool<byte>
{
    public const int SmallBlock = 4 * 1024;
    public const int LargeBlock = 32 * 1024;

    // Blocks kept for reuse per size (16 MiB of small ones, 8 MiB of large ones); beyond this,
    // returned blocks are left to the GC so a burst does not pin its peak memory for good. Large
    // blocks are only taken while bytes stream, so few are free at a time.
    private const int MaxRetainedSmall = 4096;
    private const int MaxRetainedLarge = 256;

    // Per thread: 8 small (32 KiB) and 2 large (64 KiB), enough for the blocks a loop frees
    // between two rents; a thread that stops serving keeps at most that much.
    private const int ThreadSmall = 8;
    private const int ThreadLarge = 2;

    [ThreadStatic]
    private static ThreadBlocks? t_blocks;

    private readonly BoundedPool<Block> _small = new(MaxRetainedSmall);
    private readonly BoundedPool<Block> _large = new(MaxRetainedLarge);

    public static BlockMemoryPool Instance { get; } = new();

    public override int MaxBufferSize => LargeBlock;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => RentBlock(minBufferSize);

    /// <summary>A block of at least <paramref name="minBufferSize"/> bytes (its whole array is the buffer); give it back with <see cref="Block.Dispose"/>.</summary>
    public Block RentBlock(int minBufferSize)
    {
        if (minBufferSize > LargeBlock)
        {
            return new Block(new byte[minBufferSize], home: null);
        }

        bool small = minBufferSize <= SmallBlock;
        if (t_blocks is { } cached && cached.TryTake(small) is { } hot)
        {
            return hot;
        }

        BoundedPool<Block> shared = small ? _small : _large;
        return shared.TryTake(out Block? block) ? block : new Block(GC.AllocateUninitializedArray<byte>(small ? SmallBlock : LargeBlock, pinned: true), shared);
    }

    protected override void Dispose(bool disposing)
    {
    }

    /// <summary>A pooled buffer: its array whole, and the way back to its pool.</summary>
    internal sealed class Block : IMemoryOwner<byte>
    {
        private readonly BoundedPool<Block>? _home;

        internal Block(byte[] array, BoundedPool<Block>? home)
        {
            Array = array;
            _home = home;
        }

        public byte[] Array { get; }

        public Memory<byte> Memory => Array;

        public void Dispose()
        {
            if (_home is null)
            {
                return;   // an oversized one-off: left to the GC
            }

            ThreadBlocks cache = t_blocks ??= new ThreadBlocks();
            if (!cache.TryKeep(this, Array.Length == SmallBlock))
            {
                _home.TryKeep(this);   // full: left to the GC
            }
        }
    }

    private sealed class ThreadBlocks
    {
        private readonly Block?[] _small = new Block?[ThreadSmall];
        private readonly Block?[] _large = new Block?[ThreadLarge];
        private int _smallCount;
        private int _largeCount;

        public Block? TryTake(bool small)
        {
            if (small)
            {
                if (_smallCount == 0)
                {
                    return null;
                }

                Block block = _small[--_smallCount]!;
                _small[_smallCount] = null;
                return block;
            }

            if (_largeCount == 0)
            {
                return null;
            }

            Block large = _large[--_largeCount]!;
            _large[_largeCount] = null;
            return large;
        }

        public bool TryKeep(Block block, bool small)
        {
            if (small)
            {
                if (_smallCount == ThreadSmall)
                {
                    return false;
                }

                _small[_smallCount++] = block;
                return true;
            }

            if (_largeCount == ThreadLarge)
            {
                return false;
            }

            _large[_largeCount++] = block;
            return true;
        }
    }
}
