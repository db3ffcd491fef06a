using System.Net;

namespace Engine.Targets;

internal readonly record struct ResolveResult(ResolveStatus Status, IPAddress[] Addresses)
{
    public static ResolveResult NotFound { get; } = new(ResolveStatus.NotFound, []);

    public static ResolveResult Failed { get; } = new(ResolveStatus.Failed, []);

    public static ResolveResult TimedOut { get; } = new(ResolveStatus.TimedOut, []);
}
