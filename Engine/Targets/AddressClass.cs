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
    /// <summary>An address of one of this host's own interfaces (<see cref="LocalAddresses"/>): the way back into the host.</summary>
    Local,
}
