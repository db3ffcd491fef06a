using Engine.Rules;

namespace Engine.Upstream;

/// <summary>Tag encodings shared by nodes and filters.</summary>
internal static class NodeTags
{
    /// <summary>"us" → ('u' &lt;&lt; 8) | 's'; null or anything else → 0 (untagged).</summary>
    public static ushort PackCountry(string? country) =>
        country is { Length: 2 } ? (ushort)((country[0] << 8) | country[1]) : (ushort)0;

    public static ushort PackCountry(ReadOnlySpan<byte> country) =>
        country.Length == 2 ? (ushort)((country[0] << 8) | country[1]) : (ushort)0;

    public static RuleNetwork ParseNetwork(string? network) => network switch
    {
        "res" => RuleNetwork.Res,
        "mob" => RuleNetwork.Mob,
        "dc" => RuleNetwork.Dc,
        _ => RuleNetwork.Unset,
    };

    public static ReadOnlySpan<byte> NetworkName(RuleNetwork network) => network switch
    {
        RuleNetwork.Res => "res"u8,
        RuleNetwork.Mob => "mob"u8,
        RuleNetwork.Dc => "dc"u8,
        _ => "any"u8,
    };
}
