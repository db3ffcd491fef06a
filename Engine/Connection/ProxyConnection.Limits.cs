using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Limits;
using Engine.Transport;

namespace Engine.Connection;

/// <summary>
/// Admission (overload, credits, traffic, concurrency, rate), the package's traffic meter and the
/// per-domain circuit breaker, around each request or tunnel.
/// </summary>
internal sealed partial class ProxyConnection
{
    private TrafficAccount? _traffic;
    private bool _limitEntered;
    private DomainCircuit? _circuit;
    private bool _circuitTrial;

    /// <summary>Null when admitted; otherwise the request has been answered and the value says whether the connection lives on.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool?> AdmitAsync()
    {
        if (_services.Overload.IsShedding)
        {
            _services.Overload.CountShed();
            return await RejectAsync(ProxyFailures.Overloaded).ConfigureAwait(false);
        }

        ValueTask<(Admission Verdict, int RetryAfterSeconds, bool Entered)> admit = _services.Limiter.AdmitAsync(_request.Package!);
        (Admission verdict, int retryAfter, bool entered) = admit.IsCompletedSuccessfully ? admit.Result : await admit.ConfigureAwait(false);
        if (verdict == Admission.Admitted)
        {
            _limitEntered = entered;
            _traffic ??= new TrafficAccount(_services.Limiter);
            _traffic.Begin(_request.Package!);
            return null;
        }

        return await RejectAsync(ProxyFailures.Of(verdict, retryAfter)).ConfigureAwait(false);
    }

    /// <summary>The request ended: report its remaining bytes, give back its concurrency slot, tell the breaker.</summary>
    private void EndAdmitted()
    {
        _traffic?.End(_request.BytesIn + _request.BytesOut);
        if (_limitEntered)
        {
            _services.Limiter.Leave(_request.Package!);
            _limitEntered = false;
        }

        if (_circuit is not null)
        {
            _circuit.Record(CircuitOutcomeOf(), _circuitTrial, _services.Time.GetTimestamp());
            _circuit = null;
            _circuitTrial = false;
        }
    }

    /// <summary>False (and the request answered) when the package's breaker for this domain is open.</summary>
    private bool PassCircuit(string host, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        DomainCircuit? circuit = _services.Breakers.For(_request.Package!, host);
        if (circuit is null)
        {
            return true;
        }

        if (!circuit.TryPass(_services.Time.GetTimestamp(), out retryAfterSeconds, out bool trial))
        {
            return false;
        }

        _circuit = circuit;
        _circuitTrial = trial;
        return true;
    }

    /// <summary>What the request tells the domain's breaker: a target failure, a success, or nothing about the target.</summary>
    private CircuitOutcome CircuitOutcomeOf() => _request.Error switch
    {
        ErrorCode.TargetConnectFailed or ErrorCode.TargetReset or ErrorCode.NameNotResolved or ErrorCode.GatewayTimeout
            or ErrorCode.ResponseError or ErrorCode.RequestError => CircuitOutcome.Failure,
        ErrorCode.None when _request.Status >= 500 => CircuitOutcome.Failure,
        ErrorCode.None when _request.Status > 0 => CircuitOutcome.Success,
        _ => CircuitOutcome.Neutral,
    };

    /// <summary>A tunnel or body cut because the traffic ran out: which limit, for the log.</summary>
    private void MarkTrafficCut()
    {
        _request.Termination = new TerminationState(TerminationCause.Resource, TerminationPhase.Data);
        _request.Error = ProxyFailures.TrafficCut(_services.Limiter.CreditPoolBytes is long pool && _services.Limiter.State.CreditsUsed >= pool);
    }
}
