namespace Engine.Upstream;

/// <summary>
/// The proxy error signals a node's answer may carry: one per row of <see cref="NodeAnswerClassifier"/>'s
/// table, in the order the table trusts them. The names (<see cref="NodeSignals.Name"/>) are what the
/// problem body's <c>upstream.source</c> and the access log say.
/// </summary>
internal enum NodeSignal : byte
{
    None,

    /// <summary><c>X-Proxy-Error</c>: a chained engine of this project (its catalog is ours).</summary>
    EngineError,

    /// <summary><c>Proxy-Status</c> with <c>error=</c> in the node's (the last) member: any RFC 9209 proxy, Bright Data since 2025-10.</summary>
    ProxyStatus,

    /// <summary><c>X-SOAX-Error</c> (with <c>X-SOAX-Detail</c>): SOAX; its codes are the catalog this one follows.</summary>
    SoaxError,

    /// <summary><c>X-Squid-Error: ERR_NAME errno</c>: Squid's error pages.</summary>
    SquidError,

    /// <summary><c>x-brd-err-code</c> (with <c>x-brd-err-msg</c>): Bright Data's private error fields.</summary>
    BrightDataError,

    /// <summary><c>X-Crawlera-Error</c>: Zyte Smart Proxy Manager (formerly Crawlera), also Zyte API's proxy mode.</summary>
    CrawleraError,

    /// <summary><c>X-Error-Description</c>: Oxylabs, on errors of its own infrastructure only.</summary>
    OxylabsError,

    /// <summary>tinyproxy's error page: <c>Server: tinyproxy/…</c> on a 4xx/5xx, the reason phrase says what failed.</summary>
    Tinyproxy,

    /// <summary>Status 557: Scrapoxy's own failures (its error documentation); an engine's 557 carries X-Proxy-Error first.</summary>
    Scrapoxy,

    /// <summary>The status of a non-2xx answer to our CONNECT without any other signal (405/501: the node does not tunnel).</summary>
    ConnectStatus,
}

/// <summary>Wire names of <see cref="NodeSignal"/>.</summary>
internal static class NodeSignals
{
    public static ReadOnlySpan<byte> Name(NodeSignal signal) => signal switch
    {
        NodeSignal.EngineError => "X-Proxy-Error"u8,
        NodeSignal.ProxyStatus => "Proxy-Status"u8,
        NodeSignal.SoaxError => "X-SOAX-Error"u8,
        NodeSignal.SquidError => "X-Squid-Error"u8,
        NodeSignal.BrightDataError => "x-brd-err-code"u8,
        NodeSignal.CrawleraError => "X-Crawlera-Error"u8,
        NodeSignal.OxylabsError => "X-Error-Description"u8,
        NodeSignal.Tinyproxy => "tinyproxy"u8,
        NodeSignal.Scrapoxy => "Scrapoxy"u8,
        NodeSignal.ConnectStatus => "CONNECT-status"u8,
        _ => default,
    };
}
