namespace LoadTests;

/// <summary>What a target of <c>LoadTests peers</c> speaks (the peer scripts' run-all.sh modes).</summary>
internal enum PeerMode
{
    /// <summary>A forward proxy: absolute-URI GETs and CONNECT tunnels.</summary>
    Proxy,

    /// <summary>A TCP relay to the origin (HAProxy in tcp mode): origin-form GETs on plain connections; the "cost of relaying bytes" baseline.</summary>
    Raw,

    /// <summary>Absolute-URI GETs only: HAProxy in http mode forwards them but cannot terminate CONNECT.</summary>
    GetOnly,
}
