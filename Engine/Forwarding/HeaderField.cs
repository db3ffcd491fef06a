namespace Engine.Forwarding;

/// <summary>One field line of a parsed head: views into the head's buffer, valid until it is reset.</summary>
internal readonly ref struct HeaderField
{
    public HeaderField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ForwardingHeader known, bool listedInConnection)
    {
        Name = name;
        Value = value;
        Known = known;
        ListedInConnection = listedInConnection;
    }

    public ReadOnlySpan<byte> Name { get; }

    /// <summary>The value with leading and trailing OWS removed (RFC 9110 §5.5).</summary>
    public ReadOnlySpan<byte> Value { get; }

    public ForwardingHeader Known { get; }

    /// <summary>The Connection field named this field: it applies to this hop only (RFC 9110 §7.6.1).</summary>
    public bool ListedInConnection { get; }
}
