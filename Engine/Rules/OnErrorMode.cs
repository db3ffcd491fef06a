namespace Engine.Rules;

/// <summary><c>onerror-X</c>: what a node failure does (rules.md; Replace is the default).</summary>
internal enum OnErrorMode : byte
{
    Replace,
    Fail,
    Retry,
}
