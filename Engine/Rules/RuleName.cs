namespace Engine.Rules;

/// <summary>The rule names a username may use, as written (<c>sessionid</c> is the alias of <c>session</c>).</summary>
internal enum RuleName : byte
{
    None,
    Country,
    Region,
    City,
    Isp,
    Asn,
    Network,
    Session,
    SessionId,
    SessionLength,
    IdleTtl,
    Bind,
    Rotate,
    OnError,
    Prefer,
}
