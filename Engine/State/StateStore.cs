namespace Engine.State;

/// <summary>Where sessions and counters live: this process only, or Redis shared by every instance.</summary>
internal enum StateStore : byte
{
    Memory,
    Redis,
}
