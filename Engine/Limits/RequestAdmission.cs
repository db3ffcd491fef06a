using System.Runtime.CompilerServices;
using Engine.Auth;
using Engine.Transport;

namespace Engine.Limits;

/// <summary>
/// One connection's admission around each request or tunnel: the package's rate and concurrency
/// slot, its traffic meter, and the domain's circuit breaker. <see cref="End"/> gives all of it
/// back once the request is over.
/// </summary>
internal sealed class RequestAdmission
{
    private RequestLimiter? _limiter;
    private Package? _package;
    private bool _entered;
    private DomainCircuit? _circuit;
    private bool _circuitTrial;

    /// <summary>The traffic meter of the admitted request (made on the connection's first admission).</summary>
    public TrafficAccount? Traffic { get; private set; }

    /// <summary>Takes a slot for <paramref name="package"/>; anything but <see cref="Admission.Admitted"/> took nothing.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<(Admission Verdict, int RetryAfterSeconds)> AdmitAsync(RequestLimiter limiter, Package package)
    {
        ValueTask<(Admission Verdict, int RetryAfterSeconds, bool Entered)> admit = limiter.AdmitAsync(package);
        (Admission verdict, int retryAfter, bool entered) = admit.IsCompletedSuccessfully ? admit.Result : await admit.ConfigureAwait(false);
        if (verdict == Admission.Admitted)
        {
            _limiter = limiter;
            _package = package;
            _entered = entered;
            Traffic ??= new TrafficAccount(limiter);
            Traffic.Begin(package);
        }

        return (verdict, retryAfter);
    }

    /// <summary>False when the package's breaker for <paramref name="host"/> is open; otherwise the request counts for the breaker at <see cref="End"/>.</summary>
    public bool PassCircuit(CircuitBreakers breakers, Package package, string host, long now, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        DomainCircuit? circuit = breakers.For(package, host);
        if (circuit is null)
        {
            return true;
        }

        if (!circuit.TryPass(now, out retryAfterSeconds, out bool trial))
        {
            return false;
        }

        _circuit = circuit;
        _circuitTrial = trial;
        return true;
    }

    /// <summary>The request ended having moved <paramref name="bytes"/>: report the rest, give back the slot, tell the breaker.</summary>
    public void End(long bytes, CircuitOutcome outcome, long now)
    {
        Traffic?.End(bytes);
        if (_entered)
        {
            _limiter!.Leave(_package!);
            _entered = false;
        }

        if (_circuit is not null)
        {
            _circuit.Record(outcome, _circuitTrial, now);
            _circuit = null;
            _circuitTrial = false;
        }

        _limiter = null;
        _package = null;
    }
}
