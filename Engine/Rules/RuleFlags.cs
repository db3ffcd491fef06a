namespace Engine.Rules;

/// <summary>Which rules a username gave (rules.md), one bit per rule; also what a package allows.</summary>
[Flags]
internal enum RuleFlags : ushort
{
    None = 0,
    Country = 1,
    Region = 2,
    City = 4,
    Isp = 8,
    Asn = 16,
    Network = 32,
    Session = 64,
    SessionLength = 128,
    IdleTtl = 256,
    BindNode = 512,
    RotateTimed = 1024,
    RotateRequests = 2048,
    OnError = 4096,
    PreferLookalike = 8192,
}
