using System.Buffers;
using System.Collections.Concurrent;

namespace Engine.Transport;

/// <summary>
/// Memory for the connection pipes, without allocating per rent. <see cref="MemoryPool{T}.Shared"/>
/// wraps every rented array in a new owner object: one per pipe segment, which measured ~2.4 KB per
/// MiB relayed through a tunnel. Here the owners themselves are pooled (Kestrel's
/// PinnedBlockMemoryPool does the same), in two block sizes: 4 KiB for request heads and small
/// reads, 32 KiB for bulk relay reads. Larger requests fall back to plain arrays.
/// </summary>
internal sealed class BlockMemoryPool : MemoryPool<byte>
{
    public const int SmallBlock = 4 * 1024;
    public const int LargeBlock = 32 * 1024;

    // Blocks kept for reuse per size (16 MiB of small ones, 8 MiB of large ones); beyond this,
    // returned blocks are left to the GC so a burst does not pin its peak memory for good. Large
    // blocks are only taken while bytes stream, so few are free at a time.
    private const int MaxRetainedSmall = 4096;
    private const int MaxRetainedLarge = 256;

    private readonly ConcurrentQueue<Block> _small = new();
    private readonly ConcurrentQueue<Block> _large = new();

    public static BlockMemoryPool Instance { get; } = new();

    public override int MaxBufferSize => LargeBlock;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > LargeBlock)
        {
            return new Block(this, new byte[minBufferSize], null);
        }

        ConcurrentQueue<Block> queue = minBufferSize <= SmallBlock ? _small : _large;
        if (queue.TryDequeue(out Block? block))
        {
            return block;
        }

        bool small = queue == _small;
        return new Block(this, GC.AllocateUninitializedArray<byte>(small ? SmallBlock : LargeBlock, pinned: true), queue, small ? MaxRetainedSmall : MaxRetainedLarge);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Block(BlockMemoryPool pool, byte[] array, ConcurrentQueue<Block>? home, int retained = 0) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory => array;

        public void Dispose()
        {
            if (home is not null && home.Count < retained)
            {
                home.Enqueue(this);
            }

            GC.KeepAlive(pool);
        }
    }
}
