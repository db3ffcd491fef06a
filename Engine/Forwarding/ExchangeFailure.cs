namespace Engine.Forwarding;

/// <summary>Why an exchange failed before the client saw a response byte (phase × blame); the catalog code is chosen by <c>Errors/ProxyFailures</c>.</summary>
internal enum ExchangeFailure : byte
{
    None,
    /// <summary>The target closed while the request head was sent.</summary>
    RequestSendFailed,
    /// <summary>The target closed while the request body was sent, before a response head.</summary>
    TargetClosedDuringUpload,
    /// <summary>The client's chunked framing was invalid (the target holds a partial request).</summary>
    ClientFraming,
    /// <summary>No response head within ResponseHeadTimeout.</summary>
    ResponseHeadTimeout,
    /// <summary>The response head was not HTTP/1.1, or too many interim heads.</summary>
    ResponseMalformed,
    /// <summary>The target closed or reset before a complete response head.</summary>
    TargetClosedBeforeHead,
    /// <summary>An http node answered with its own error, which blames the target or says what the node cannot carry (<see cref="ExchangeResult.NodeAnswer"/>).</summary>
    NodeAnswered,
}
