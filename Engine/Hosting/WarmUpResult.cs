namespace Engine.Hosting;

/// <summary>
/// What the warm-up did: served (how much, how many methods the runtime compiled meanwhile, whether
/// the compiler went quiet within the budget), skipped or failed (and why).
/// </summary>
internal sealed record WarmUpResult(WarmUpOutcome Outcome, int Requests, int Tunnels, long MethodsCompiled, bool Settled, TimeSpan Elapsed, string? Reason)
{
    /// <summary>Requests and tunnels the http node carried (the rest went direct).</summary>
    public int ThroughHttpNode { get; init; }

    /// <summary>SOCKS5 tunnels answered (made only when a listener speaks SOCKS5: <see cref="SocksExpected"/>).</summary>
    public int SocksTunnels { get; init; }

    public bool SocksExpected { get; init; }

    /// <summary>GETs answered over TLS to the proxy (made only when a listener speaks it: <see cref="TlsExpected"/>).</summary>
    public int TlsRequests { get; init; }

    public bool TlsExpected { get; init; }

    public static WarmUpResult Skipped(string reason) => new(WarmUpOutcome.Skipped, 0, 0, 0, false, TimeSpan.Zero, reason);

    public static WarmUpResult Failed(string reason, TimeSpan elapsed) => new(WarmUpOutcome.Failed, 0, 0, 0, false, elapsed, reason);

    /// <summary>Every request and tunnel was answered.</summary>
    public bool Complete => Outcome == WarmUpOutcome.Ran && Requests == WarmUp.Requests && Tunnels == WarmUp.Tunnels
        && SocksTunnels == (SocksExpected ? WarmUp.Tunnels : 0)
        && TlsRequests == (TlsExpected ? WarmUp.TlsRequests : 0);
}
