namespace Engine.Errors;

/// <summary>Yes/no columns of the catalog, packed so each row reads on one line.</summary>
[Flags]
internal enum ErrorTraits : byte
{
    None = 0,
    ProxyAuthenticate = 1,
    RetryAfter = 2,
    Socks5AuthFailure = 4,
    LogOnly = 8,
}
