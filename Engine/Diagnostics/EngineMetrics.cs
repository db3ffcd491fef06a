using System.Diagnostics.Metrics;
using Engine.Errors;

namespace Engine.Diagnostics;

/// <summary>
/// The engine's <see cref="Meter"/> ("Engine"): visible to dotnet-counters and any
/// MeterListener/OpenTelemetry exporter. Counting a refusal is one atomic add; gauges are read
/// only when a collector asks.
/// </summary>
internal sealed class EngineMetrics : IDisposable
{
    public const string MeterName = "Engine";

    private readonly Meter _meter;
    private readonly Counter<long> _limited;

    public EngineMetrics(Func<bool> stateDegraded, Func<long> shed, IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _limited = _meter.CreateCounter<long>("engine.limits.rejected", "{request}",
            "Requests and tunnels refused by a limit, by limit (rps, concurrency, traffic, credits, circuit, overload).");
        _meter.CreateObservableGauge("engine.state.degraded", () => stateDegraded() ? 1 : 0, null,
            "1 while the shared state store (Redis) cannot be reached and this instance serves from local state.");
        _meter.CreateObservableCounter("engine.overload.shed", shed, "{request}",
            "Requests refused with 503 OVERLOADED because the work queue was too long.");
    }

    public void Limited(LimitedBy limit) =>
        _limited.Add(1, new KeyValuePair<string, object?>("limit", limit switch
        {
            LimitedBy.Rps => "rps",
            LimitedBy.Concurrency => "concurrency",
            LimitedBy.Traffic => "traffic",
            LimitedBy.Credits => "credits",
            LimitedBy.Circuit => "circuit",
            LimitedBy.Overload => "overload",
            _ => "other",
        }));

    public void Dispose() => _meter.Dispose();
}
