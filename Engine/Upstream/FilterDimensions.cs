namespace Engine.Upstream;

/// <summary>The targeting filters a selection can fail on, for NODE_NOT_FOUND's <c>filters</c>.</summary>
[Flags]
internal enum FilterDimensions : byte
{
    None = 0,
    Country = 1,
    Region = 2,
    City = 4,
    Isp = 8,
    Asn = 16,
    Network = 32,

    /// <summary>A sticky session a provider gateway cannot hold (no <c>{session}</c>, or longer than it keeps one).</summary>
    Session = 64,
}
