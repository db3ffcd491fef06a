namespace Engine.Forwarding;

/// <summary>The only facts about the request method that response framing depends on (RFC 9112 §6.3 items 1–2).</summary>
internal enum RequestMethodKind : byte
{
    Other,
    Head,
    Connect,
}
