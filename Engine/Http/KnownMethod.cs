namespace Engine.Http;

/// <summary>
/// Request methods the engine recognises by bytes. Any other token is a valid method
/// (RFC 9110 §9.1) and is reported as <see cref="Custom"/>; its bytes stay available.
/// </summary>
internal enum KnownMethod : byte
{
    Custom = 0,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
}
