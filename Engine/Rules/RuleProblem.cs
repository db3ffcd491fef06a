namespace Engine.Rules;

/// <summary>
/// One member per distinct mistake a username can make; <see cref="RuleError.CodeOf"/> maps each to its
/// catalog code (errors.md) and <see cref="RuleError.FormatDetail"/> to its fix.
/// </summary>
internal enum RuleProblem : byte
{
    None,

    // ERR_MISSING_PARAMS
    EmptyUsername,

    // ERR_UNKNOWN_PARAM
    UnknownName,

    // ERR_INVALID_VALUE
    EmptyName,
    UppercaseName,
    NameWithoutValue,
    UppercaseValue,
    BadCharacters,
    ValueTooLong,
    SessionIdTooLong,
    NotCountryCode,
    UnknownCountry,
    CountryUkIsGb,
    BadNumber,
    LeadingZero,
    OutOfRange,
    UnknownNetwork,
    UnknownOption,

    // ERR_DUPLICATE_PARAM
    Duplicate,
    AliasDuplicate,

    // ERR_INVALID_COMBINATION
    BindWithoutSession,
    SessionLengthWithoutSession,
    IdleTtlWithoutSession,
    RotateWithoutSession,
    BindWithRotate,
    BindWithOnErrorReplace,
    BindWithPreferLookalike,
    RotateTimedWithRequests,

    // ERR_PARAM_NOT_ALLOWED
    RuleNotAllowed,
    NetworkNotAllowed,
}
