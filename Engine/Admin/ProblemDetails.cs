namespace Engine.Admin;

/// <summary>An admin API error: RFC 9457 problem details in the envelope of errors.md.</summary>
internal sealed record ProblemDetails(string Type, string Title, int Status, string Code, string Detail, string Instance)
{
    /// <summary>422: what is wrong with which part of the request.</summary>
    public IReadOnlyList<Violation>? Violations { get; init; }

    /// <summary>429 and 503: when to try again (also the Retry-After header).</summary>
    public int? RetryAfterSeconds { get; init; }
}
