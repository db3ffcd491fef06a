using Engine.Upstream;
using Engine.Sessions;

namespace Engine.State;

/// <summary>
/// What engine instances may share (spec/config.md <c>State</c>): sticky sessions, the per-package
/// request rate, per-package traffic and the organisation's credit pool. <c>memory</c> keeps them
/// in this process; <c>redis</c> shares them across every instance and falls back to local state,
/// flagged by <see cref="IsDegraded"/>, while Redis cannot be reached.
/// Concurrency limits (<c>MaxConcurrent</c>) are per instance and not part of the store.
/// </summary>
internal interface IStateStore : IAsyncDisposable
{
    ISessionStore Sessions { get; }

    /// <summary>
    /// Takes one request token from the package's bucket (capacity <paramref name="ratePerSecond"/>,
    /// refilled at that rate). Atomic across instances: two cannot both take the last token.
    /// </summary>
    ValueTask<RateDecision> TakeTokenAsync(string packageId, int ratePerSecond);

    /// <summary>
    /// Bytes a package moved (both directions), already batched by the caller. Never blocks: a
    /// shared store adds locally and flushes in batches. Counts toward the credit pool too.
    /// </summary>
    void AddTraffic(string packageId, long bytes);

    /// <summary>Bytes the package has used, as last known (shared total at the last sync plus what is not flushed yet).</summary>
    long TrafficUsed(string packageId);

    /// <summary>
    /// A traffic counter of a period that is over (<c>demo@2026-12-05</c> once the day turned): nothing reads
    /// it any more, so a shared store stops reading its total back. Bytes still added to it are kept.
    /// </summary>
    void RetireTraffic(string packageId) { }

    /// <summary>Bytes drawn from the credit pool by every package, as last known.</summary>
    long CreditsUsed { get; }

    /// <summary>True while a shared store cannot be reached and this instance serves from local state.</summary>
    bool IsDegraded { get; }
}
