using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Limits;
using Engine.Targets;
using Engine.Transport;

namespace Engine.Connection;

/// <summary>
/// Admission (overload, credits, traffic, concurrency, rate), the package's traffic meter and the
/// per-domain circuit breaker, around each request or tunnel.
/// </summary>
internal sealed partial class ProxyConnection
{
    /// <summary>Null when admitted; otherwise the request has been answered and the value says whether the connection lives on.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool?> AdmitAsync()
    {
        if (_services.Overload.IsShedding)
        {
            _services.Overload.CountShed();
            return await RejectAsync(ProxyFailures.Overloaded).ConfigureAwait(false);
        }

        ValueTask<(Admission Verdict, int RetryAfterSeconds)> admit = _admission.AdmitAsync(_services.Limiter, _request.Package!);
        (Admission verdict, int retryAfter) = admit.IsCompletedSuccessfully ? admit.Result : await admit.ResumeOnLoop();
        return verdict == Admission.Admitted ? null : await RejectAsync(ProxyFailures.Of(verdict, retryAfter)).ConfigureAwait(false);
    }

    /// <summary>The request ended: its remaining bytes, its slot and its outcome for the domain's breaker.</summary>
    private void EndAdmitted() =>
        _admission.End(_request.BytesIn + _request.BytesOut, _request.CircuitOutcome, _services.Time.GetTimestamp());

    /// <summary>
    /// The target's own checks, for a tunnel and an exchange alike: the policy (ports, blocklist)
    /// and the package's breaker for the domain. Null when both let it through; otherwise the
    /// request was refused and the value says whether the connection carries on.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool?> RefuseTargetAsync(string host, int port, bool isConnect)
    {
        PolicyVerdict verdict = _services.Policy.CheckRequest(host, port, isConnect);
        if (verdict != PolicyVerdict.Allowed)
        {
            return await RejectPolicyAsync(verdict, port).ConfigureAwait(false);
        }

        if (!PassCircuit(host, out int retryAfter))
        {
            return await RejectAsync(ProxyFailures.CircuitOpen(retryAfter)).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>False when the package's breaker for this domain is open.</summary>
    private bool PassCircuit(string host, out int retryAfterSeconds) =>
        _admission.PassCircuit(_services.Breakers, _request.Package!, host, _services.Time.GetTimestamp(), out retryAfterSeconds);

    /// <summary>How an answered request (a response head or a tunnel's 200 sent) ended, for its log line.</summary>
    private void EndAnswered(TerminationState termination, ExchangeFailure failure) =>
        _request.EndAnswered(termination, failure, _services.Limiter);
}
