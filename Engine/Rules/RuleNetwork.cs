namespace Engine.Rules;

/// <summary><c>network-X</c>: the node network type a request asks for.</summary>
internal enum RuleNetwork : byte
{
    Unset,
    Any,
    Res,
    Mob,
    Dc,
}
