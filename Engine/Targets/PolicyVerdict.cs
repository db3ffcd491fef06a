namespace Engine.Targets;

internal enum PolicyVerdict : byte
{
    Allowed,
    PortNotAllowed,
    BlockedDomain,
    ForbiddenAddress,
}
