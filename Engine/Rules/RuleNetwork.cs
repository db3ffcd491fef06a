namespace Engine.Rules;

/// <summary>The <c>network-X</c> rule and a node's network tag (rules.md).</summary>
internal enum RuleNetwork : byte
{
    Unset,
    Any,
    Res,
    Mob,
    Dc,
}
