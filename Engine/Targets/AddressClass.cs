namespace Engine.Targets;

/// <summary>Why an address is not a public unicast destination.</summary>
internal enum AddressClass : byte
{
    Public = 0,
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    Metadata,
    Multicast,
    Broadcast,
    Reserved,
}
