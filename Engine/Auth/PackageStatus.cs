namespace Engine.Auth;

internal enum PackageStatus : byte
{
    Active,
    Paused,
    Suspended,
}
