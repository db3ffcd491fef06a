namespace Engine.Rules;

/// <summary>A slice of the username bytes (offset, length), so a <see cref="RuleSet"/> refers into the caller's buffer and allocates nothing.</summary>
internal readonly record struct ValueRange(int Start, int Length)
{
    public bool IsEmpty => Length == 0;

    public ReadOnlySpan<byte> Of(ReadOnlySpan<byte> username) => username.Slice(Start, Length);
}
