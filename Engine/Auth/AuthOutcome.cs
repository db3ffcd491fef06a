namespace Engine.Auth;

internal enum AuthOutcome : byte
{
    Authenticated,
    /// <summary>No credentials and no IP-auth package for the client: ERR_AUTH_REQUIRED.</summary>
    Missing,
    /// <summary>Not Basic, bad base64, no colon: AUTH_FAILED.</summary>
    Malformed,
    /// <summary>Well-formed, but no package has that key: AUTH_FAILED.</summary>
    UnknownKey,
    IpNotAllowed,
    Paused,
    Suspended,
    ProtocolNotAllowed,
}
