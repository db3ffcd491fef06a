namespace Engine.Hosting;

/// <summary><c>Engine.Credits</c>: a byte pool shared by every package.</summary>
internal sealed class CreditsOptions
{
    /// <summary>null = unlimited.</summary>
    public long? PoolBytes { get; init; }
}
