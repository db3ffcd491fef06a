using Engine.Upstream;
using Engine.State;

namespace Engine.Hosting;

/// <summary>The whole <c>Engine</c> section, read and validated (see docs/configuration.md).</summary>
internal sealed record EngineOptions
{
    public const string SectionName = "Engine";

    /// <summary>Appears in <c>Via</c> and <c>Proxy-Status</c>.</summary>
    public string Name { get; init; } = "engine";

    public IReadOnlyList<ListenerOptions> Listeners { get; init; } = [];

    public AdminOptions? Admin { get; init; }

    public LimitsOptions Limits { get; init; } = new();

    public SecurityOptions Security { get; init; } = new();

    public IReadOnlyList<PackageOptions> Packages { get; init; } = [];

    public CreditsOptions Credits { get; init; } = new();

    public IReadOnlyList<NodeOptions> Nodes { get; init; } = [];

    /// <summary>Files of nodes watched and reloaded on change (docs/configuration.md "NodeSources").</summary>
    public IReadOnlyList<Upstream.NodeSourceOptions> NodeSources { get; init; } = [];

    public StateOptions State { get; init; } = new();

    public RoutingOptions Routing { get; init; } = new();

    public AccessLogOptions AccessLog { get; init; } = new();

    /// <summary><c>Engine:Errors</c>: TypeBase and Realm (the writer's EngineName is <see cref="Name"/>).</summary>
    public Engine.Errors.ErrorWriterOptions Errors { get; init; } = new();

    /// <summary>
    /// <c>Engine:WarmUp</c>: on the JIT, serve a few hundred loopback requests to a throwaway copy of
    /// the data path before the listeners open, so the first clients meet compiled code
    /// (<see cref="Hosting.WarmUp"/>). Ignored by a Native AOT build.
    /// </summary>
    public bool WarmUp { get; init; } = true;
}
