namespace Engine.Errors;

/// <summary>What a client should do after an error: the <c>retry</c> member of the problem body.</summary>
public enum RetryClass : byte
{
    /// <summary>Retry at once: a fresh node helps.</summary>
    Retry,

    /// <summary>Wait (honour Retry-After), then retry.</summary>
    Backoff,

    /// <summary>The request or the configuration must change first.</summary>
    Fix,

    /// <summary>Retrying will not help.</summary>
    Abort,
}
