using Engine.Errors;

namespace Engine.Rules;

/// <summary>
/// Why a username's rules were refused: the catalog code, the precise problem and where in the username it is.
/// Ranges point into the username, so an error allocates nothing until a detail is written.
/// </summary>
internal readonly partial struct RuleError
{
    internal RuleError(RuleProblem problem, ValueRange param, ValueRange value, ValueRange previous)
    {
        Problem = problem;
        Param = param;
        Value = value;
        Previous = previous;
    }

    /// <summary>ErrMissingParams, ErrUnknownParam, ErrInvalidValue, ErrDuplicateParam, ErrInvalidCombination or ErrParamNotAllowed; None on success.</summary>
    public ErrorCode Code => CodeOf(Problem);

    public RuleProblem Problem { get; }

    /// <summary>The offending rule name as written (<c>angeles</c> in <c>city-los-angeles</c>); empty for an empty username or name.</summary>
    public ValueRange Param { get; }

    /// <summary>The offending value, when there is one.</summary>
    public ValueRange Value { get; }

    /// <summary>
    /// The pair that helps the hint: the pair before an unknown or empty name (<c>city-los</c> for <c>angeles</c>),
    /// the first occurrence of a duplicate, the other rule of a contradicting combination (<c>bind-node</c>).
    /// </summary>
    public ValueRange Previous { get; }

    public static ErrorCode CodeOf(RuleProblem problem) => ProxyFailures.Of(problem);
}
