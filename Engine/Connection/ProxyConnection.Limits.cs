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
            _termination = new TerminationState(TerminationCause.Resource, TerminationPhase.Request);
            return await RejectLimitAsync(ErrorCode.Overloaded, "the engine is shedding load (its work queue is long); retry after the Retry-After delay"u8, 1, LimitedBy.Overload).ConfigureAwait(false);
        }

        ValueTask<(Admission Verdict, int RetryAfterSeconds, bool Entered)> admit = _services.Limiter.AdmitAsync(_package!);
        (Admission verdict, int retryAfter, bool entered) = admit.IsCompletedSuccessfully ? admit.Result : await admit.ConfigureAwait(false);
        if (verdict == Admission.Admitted)
        {
            _limitEntered = entered;
            _traffic ??= new TrafficAccount(_services.Limiter);
            _traffic.Begin(_package!);
            return null;
        }

        _termination = new TerminationState(TerminationCause.Resource, TerminationPhase.Request);
        return verdict switch
        {
            Admission.NoCredits => await RejectLimitAsync(ErrorCode.PackageNoCredits,
                "the organisation's credit pool (Credits:PoolBytes) is used up; add credits"u8, -1, LimitedBy.Credits).ConfigureAwait(false),
            Admission.TrafficExceeded => await RejectLimitAsync(ErrorCode.TrafficLimitExceeded,
                "this package's traffic cap (TrafficLimitBytes) is used up"u8, -1, LimitedBy.Traffic).ConfigureAwait(false),
            Admission.TooManyConcurrent => await RejectLimitAsync(ErrorCode.RateLimitExceeded,
                "too many requests and tunnels of this package in flight (MaxConcurrent)"u8, retryAfter, LimitedBy.Concurrency).ConfigureAwait(false),
            _ => await RejectLimitAsync(ErrorCode.RateLimitExceeded,
                "this package's request rate (RequestsPerSecond) is exceeded"u8, retryAfter, LimitedBy.Rps).ConfigureAwait(false),
        };
    }

    /// <summary>The request ended: report its remaining bytes, give back its concurrency slot, tell the breaker.</summary>
    private void EndAdmitted()
    {
        _traffic?.End(_bytesIn + _bytesOut);
        if (_limitEntered)
        {
            _services.Limiter.Leave(_package!);
            _limitEntered = false;
        }

        if (_circuit is not null)
        {
            _circuit.Record(CircuitOutcomeOf(), _circuitTrial, _services.Time.GetTimestamp());
            _circuit = null;
            _circuitTrial = false;
        }
    }

    /// <summary>False (and the circuit set) when the package's breaker for this domain is open.</summary>
    private bool PassCircuit(string host, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        DomainCircuit? circuit = _services.Breakers.For(_package!, host);
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

    private ValueTask<bool> RejectCircuitOpenAsync(int retryAfterSeconds)
    {
        _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
        return RejectLimitAsync(ErrorCode.DomainCircuitOpen,
            "too many requests to this domain failed recently; its circuit is open until the cool-down ends"u8, retryAfterSeconds, LimitedBy.Circuit);
    }

    private CircuitOutcome CircuitOutcomeOf() => _error switch
    {
        ErrorCode.TargetConnectFailed or ErrorCode.TargetReset or ErrorCode.NameNotResolved or ErrorCode.GatewayTimeout
            or ErrorCode.ResponseError or ErrorCode.RequestError => CircuitOutcome.Failure,
        ErrorCode.None when _status >= 500 => CircuitOutcome.Failure,
        ErrorCode.None when _status > 0 => CircuitOutcome.Success,
        _ => CircuitOutcome.Neutral,
    };

    /// <summary>
    /// Reports relayed bytes once a batch has built up; false when the package's cap or the credit
    /// pool ran out, and the request must be cut.
    /// </summary>
    private bool ReportTrafficBatch()
    {
        TrafficAccount? traffic = _traffic;
        if (traffic is null)
        {
            return true;
        }

        long pending = _bytesIn + _bytesOut - traffic.Reported;
        return pending < TrafficAccount.BatchBytes || traffic.Report(pending);
    }

    /// <summary>A tunnel or body cut because the traffic ran out: which limit, for the log.</summary>
    private void MarkTrafficCut()
    {
        _termination = new TerminationState(TerminationCause.Resource, TerminationPhase.Data);
        _error = _services.Limiter.CreditPoolBytes is long pool && _services.Limiter.State.CreditsUsed >= pool
            ? ErrorCode.PackageNoCredits
            : ErrorCode.TrafficLimitExceeded;
    }

    private ValueTask<bool> RejectLimitAsync(ErrorCode code, ReadOnlySpan<byte> detail, int retryAfterSeconds, LimitedBy limitedBy)
    {
        _services.Metrics?.Limited(limitedBy);
        return RejectAsync(new ErrorResponse(code)
        {
            Detail = detail,
            RetryAfterSeconds = retryAfterSeconds >= 0 ? retryAfterSeconds : null,
            LimitedBy = limitedBy,
        });
    }
}
