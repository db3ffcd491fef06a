namespace Engine.Http;

/// <summary>Scheme of an absolute-form target; other schemes are syntactically valid and left to policy.</summary>
internal enum SchemeKind : byte
{
    None = 0,
    Http,
    Https,
    Other,
}
