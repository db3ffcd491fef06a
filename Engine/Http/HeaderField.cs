namespace Engine.Http;

/// <summary>A view of one field line: name as received (case kept), value with OWS trimmed (RFC 9112 §5).</summary>
internal readonly ref struct HeaderField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, KnownHeader known)
{
    public ReadOnlySpan<byte> Name { get; } = name;
    public ReadOnlySpan<byte> Value { get; } = value;
    public KnownHeader Known { get; } = known;
}
