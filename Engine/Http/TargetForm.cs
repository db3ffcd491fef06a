namespace Engine.Http;

/// <summary>The four request-target forms of RFC 9112 §3.2.</summary>
internal enum TargetForm : byte
{
    None = 0,

    /// <summary><c>/path?query</c> (§3.2.1).</summary>
    Origin,

    /// <summary><c>scheme://authority/path?query</c>, what a proxy normally receives (§3.2.2).</summary>
    Absolute,

    /// <summary><c>host:port</c>, CONNECT only (§3.2.3).</summary>
    Authority,

    /// <summary><c>*</c>, OPTIONS only (§3.2.4).</summary>
    Asterisk,
}
