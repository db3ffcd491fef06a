namespace Engine.State;

/// <summary><c>Engine.State</c>.</summary>
internal sealed class StateOptions
{
    public StateStore Store { get; init; } = StateStore.Memory;

    /// <summary>StackExchange.Redis configuration string (<c>host:port[,options]</c>); required for <see cref="StateStore.Redis"/>.</summary>
    public string? Redis { get; init; }
}
