using Engine.Tests.Forwarding;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Tests.Sessions;

/// <summary>The session contract against the in-process store (the Redis store's fallback).</summary>
public sealed class MemorySessionStoreContractTests : SessionStoreContract
{
    private protected override Task<ISessionStore> CreateStoreAsync(ManualTimeProvider time) => Task.FromResult<ISessionStore>(new MemorySessionStore(time));
}
