namespace Engine.Forwarding;

/// <summary>The connection options a Connection field listed (RFC 9110 §7.6.1).</summary>
[Flags]
internal enum ConnectionOptions : byte
{
    None = 0,
    Close = 1,
    KeepAlive = 2,
    Upgrade = 4,
    /// <summary>Some other token: a field name the forwarder must remove.</summary>
    Other = 8,
}
