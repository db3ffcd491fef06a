namespace Engine.Errors;

/// <summary>Which limit answered a 429/503: the <c>limitedBy</c> extension member of the problem body.</summary>
public enum LimitedBy : byte
{
    /// <summary>No <c>limitedBy</c> member is written.</summary>
    None,
    Rps,
    Concurrency,
    Traffic,
    Credits,
    Circuit,
    Overload,
}
