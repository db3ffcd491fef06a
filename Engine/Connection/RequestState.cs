using Engine.Auth;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Limits;
using Engine.Rules;
using Engine.Upstream;

namespace Engine.Connection;

/// <summary>
/// Everything one request accumulates on its way through the connection, for its answer and its
/// access-log line. Started afresh for every request (<see cref="ProxyConnection"/>'s
/// <c>BeginRequest</c> assigns a new value: the one reset).
/// </summary>
internal struct RequestState
{
    public RequestState(CorrelationId correlationId, long started)
    {
        CorrelationId = correlationId;
        Started = started;
        Termination = TerminationState.Normal;
    }

    public CorrelationId CorrelationId;
    public long Started;

    /// <summary>The authenticated package; null until authentication passed.</summary>
    public Package? Package;
    /// <summary>Length of the rules (the username) in the connection's credentials buffer; 0 or less: none sent.</summary>
    public int RulesLength;
    /// <summary>Whether the rules were parsed (once per request: at the SOCKS5 auth step, or at routing).</summary>
    public bool RulesParsed;
    public RuleSet Rules;
    /// <summary>The rules' parse error when they did not parse.</summary>
    public RuleError RuleError;
    /// <summary>A refusal found at a SOCKS5 auth step that is not an RFC 1929 failure, answered at the request.</summary>
    public ErrorCode DeferredRefusal;

    /// <summary>An exchange began reading the request body: a refusal can no longer skip or drain it.</summary>
    public bool ExchangeStarted;

    public long BytesIn;
    public long BytesOut;
    /// <summary>The status the client saw (the target's, or the catalog error's).</summary>
    public int Status;
    /// <summary>The catalog code of the failure, also after a response started (a cut body, a reset tunnel).</summary>
    public ErrorCode Error;
    public TerminationState Termination;
    /// <summary>
    /// The node's own error answer the refusal was translated from (or that made the last node fail): the
    /// problem body's <c>upstream</c> member and the log line's. Default: none.
    /// </summary>
    public NodeAnswer Upstream;

    /// <summary>
    /// How an answered request (a response head or a tunnel's 200 sent) ended, for its log line: a
    /// cut because the traffic ran out names which limit; any other failure its code.
    /// </summary>
    public void EndAnswered(TerminationState termination, ExchangeFailure failure, RequestLimiter limiter)
    {
        Termination = termination;
        Error = termination.Cause == TerminationCause.Resource
            ? ProxyFailures.TrafficCut(limiter.CreditPoolBytes is long pool && limiter.State.CreditsUsed >= pool)
            : ProxyFailures.AfterAnswerStarted(termination, failure);
    }

    /// <summary>What the request tells the domain's breaker: a target failure, a success, or nothing about the target.</summary>
    public readonly CircuitOutcome CircuitOutcome => Error switch
    {
        ErrorCode.TargetConnectFailed or ErrorCode.TargetReset or ErrorCode.NameNotResolved or ErrorCode.GatewayTimeout
            or ErrorCode.ResponseError or ErrorCode.RequestError => CircuitOutcome.Failure,
        ErrorCode.None when Status >= 500 => CircuitOutcome.Failure,
        ErrorCode.None when Status > 0 => CircuitOutcome.Success,
        _ => CircuitOutcome.Neutral,
    };
}
