namespace Engine.Forwarding;

/// <summary>How an exchange ended, from the point of view of what the caller must do next.</summary>
internal enum ExchangeOutcome : byte
{
    /// <summary>The response went to the client; the upstream connection must be closed.</summary>
    Relayed,
    /// <summary>The response went to the client; the upstream connection may go back to the pool.</summary>
    Reusable,
    /// <summary>A reused connection died before any response byte: send again on a fresh one (RFC 9112 §9.3.1).</summary>
    RetryOnFreshConnection,
    /// <summary>An http node itself failed (<see cref="ExchangeResult.NodeFailure"/>) before anything reached the client.</summary>
    NodeFailed,
    /// <summary>Nothing reached the client: answer <see cref="ExchangeResult.Failure"/> as a catalog error.</summary>
    Failed,
    /// <summary>Part of the response went out and then something broke: only closing is left.</summary>
    Broken,
    /// <summary>101 Switching Protocols: the bytes were relayed as a tunnel until both sides were done.</summary>
    Upgraded,
}
