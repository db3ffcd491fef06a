namespace Engine.Http;

/// <summary>One field line as offsets into its <see cref="RequestHead"/>'s byte buffer; the head owns the bytes.</summary>
internal readonly struct HeaderEntry(int nameOffset, int nameLength, int valueOffset, int valueLength, KnownHeader known)
{
    public int NameOffset { get; } = nameOffset;
    public int NameLength { get; } = nameLength;
    public int ValueOffset { get; } = valueOffset;
    public int ValueLength { get; } = valueLength;
    public KnownHeader Known { get; } = known;
}
