using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>
/// A vector where the engine's policy is a deliberate decision against (or, recorded for the
/// reader, in line with) llhttp. <see cref="Reason"/> is null when the engine agrees.
/// </summary>
internal sealed record ExpectedDifference(string Id, RejectReason? Reason, string Why);
