namespace Engine.Errors;

/// <summary>The category column of the catalog (spec/errors.md): which area of the engine raised the error.</summary>
public enum ErrorCategory : byte
{
    Protocol,
    Validation,
    Policy,
    Auth,
    Account,
    Session,
    Limit,
    Node,
    Target,
    Binding,
    Resilience,
    Capacity,
    Timeout,
    Engine,

    /// <summary>The client side of the connection (WRITE_ERROR): logged, never answered.</summary>
    Client,
}
