namespace Engine.Http;

/// <summary>Recognises methods by length and one word compare. Methods are case-sensitive (RFC 9110 §9.1).</summary>
internal static class KnownMethods
{
    private static readonly ulong Get = AsciiBytes.Load("GET"u8);
    private static readonly ulong Put = AsciiBytes.Load("PUT"u8);
    private static readonly ulong Head = AsciiBytes.Load("HEAD"u8);
    private static readonly ulong Post = AsciiBytes.Load("POST"u8);
    private static readonly ulong Trace = AsciiBytes.Load("TRACE"u8);
    private static readonly ulong Patch = AsciiBytes.Load("PATCH"u8);
    private static readonly ulong Delete = AsciiBytes.Load("DELETE"u8);
    private static readonly ulong Connect = AsciiBytes.Load("CONNECT"u8);
    private static readonly ulong Options = AsciiBytes.Load("OPTIONS"u8);

    public static KnownMethod Lookup(ReadOnlySpan<byte> method)
    {
        if (method.Length is < 3 or > 7)
        {
            return KnownMethod.Custom;
        }

        ulong word = AsciiBytes.Load(method);
        return method.Length switch
        {
            3 when word == Get => KnownMethod.Get,
            3 when word == Put => KnownMethod.Put,
            4 when word == Head => KnownMethod.Head,
            4 when word == Post => KnownMethod.Post,
            5 when word == Trace => KnownMethod.Trace,
            5 when word == Patch => KnownMethod.Patch,
            6 when word == Delete => KnownMethod.Delete,
            7 when word == Connect => KnownMethod.Connect,
            7 when word == Options => KnownMethod.Options,
            _ => KnownMethod.Custom,
        };
    }
}
