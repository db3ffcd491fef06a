namespace Engine.Http;

/// <summary>The only two protocol versions an HTTP/1 request line may carry here (RFC 9112 §2.3).</summary>
internal enum RequestVersion : byte
{
    None = 0,
    Http10,
    Http11,
}
