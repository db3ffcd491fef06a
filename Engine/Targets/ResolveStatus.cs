namespace Engine.Targets;

internal enum ResolveStatus : byte
{
    Resolved,
    NotFound,
    Failed,
    TimedOut,
}
