namespace Engine.Hosting;

/// <summary>
/// What the warm-up did: served (how much, how many methods the runtime compiled meanwhile, whether
/// the compiler went quiet within the budget), skipped or failed (and why).
/// </summary>
internal sealed record WarmUpResult(WarmUpOutcome Outcome, int Requests, int Tunnels, long MethodsCompiled, bool Settled, TimeSpan Elapsed, string? Reason)
{
    /// <summary>Requests and tunnels the http node carried (the rest went direct).</summary>
    public int ThroughHttpNode { get; init; }

    public static WarmUpResult Skipped(string reason) => new(WarmUpOutcome.Skipped, 0, 0, 0, false, TimeSpan.Zero, reason);

    public static WarmUpResult Failed(string reason, TimeSpan elapsed) => new(WarmUpOutcome.Failed, 0, 0, 0, false, elapsed, reason);

    /// <summary>Every request and tunnel was answered 200.</summary>
    public bool Complete => Outcome == WarmUpOutcome.Ran && Requests == WarmUp.Connections * WarmUp.RequestsPerConnection && Tunnels == WarmUp.Tunnels;
}
