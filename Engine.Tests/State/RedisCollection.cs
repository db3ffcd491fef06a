namespace Engine.Tests.State;

[CollectionDefinition(Name)]
public sealed class RedisCollection
{
    /// <summary>Redis tests time calls and count admitted tokens: they run one class at a time.</summary>
    public const string Name = "Redis";
}
