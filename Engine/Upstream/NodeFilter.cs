using Engine.Rules;

namespace Engine.Upstream;

/// <summary>
/// What a request asks of its node, resolved against the pool's tag tables: plain values, so a
/// connection can keep it across awaits. Built by <see cref="NodePool.CreateFilter"/>.
/// </summary>
internal struct NodeFilter
{
    /// <summary>Packed country; 0 = any.</summary>
    public ushort Country;

    /// <summary>Tag ids: <see cref="TagTable.None"/> = any, <see cref="TagTable.Unknown"/> = a value no node has.</summary>
    public int Region;

    public int City;

    public int Isp;

    /// <summary>0 = any.</summary>
    public uint Asn;

    /// <summary>Unset or Any = any.</summary>
    public RuleNetwork Network;

    /// <summary>The package's <c>AllowedNetworks</c> as bits (1 &lt;&lt; RuleNetwork); 0 = all networks.</summary>
    public byte AllowedNetworks;

    /// <summary>A sticky session's length in seconds (what a gateway must hold); 0 = no session.</summary>
    public int SessionSeconds;

    public static NodeFilter Any => new() { Region = TagTable.None, City = TagTable.None, Isp = TagTable.None };

    public readonly FilterDimensions Dimensions =>
        (Country != 0 ? FilterDimensions.Country : 0)
        | (Region != TagTable.None ? FilterDimensions.Region : 0)
        | (City != TagTable.None ? FilterDimensions.City : 0)
        | (Isp != TagTable.None ? FilterDimensions.Isp : 0)
        | (Asn != 0 ? FilterDimensions.Asn : 0)
        | (Network is not (RuleNetwork.Unset or RuleNetwork.Any) ? FilterDimensions.Network : 0);

    public readonly bool Matches(Node node) => node.Gateway is { } gateway ? gateway.Matches(this, node) : MatchesTags(node);

    private readonly bool MatchesTags(Node node) =>
        (Country == 0 || node.Country == Country)
        && (Region == TagTable.None || node.Region == Region)
        && (City == TagTable.None || node.City == City)
        && (Isp == TagTable.None || node.Isp == Isp)
        && (Asn == 0 || node.Asn == Asn)
        && (Network is RuleNetwork.Unset or RuleNetwork.Any || node.Network == Network)
        && (AllowedNetworks == 0 || (AllowedNetworks & (1 << (int)node.Network)) != 0);

    /// <summary>This filter narrowed to the old node's ISP, ASN and city (<c>prefer-lookalike</c>), as far as <paramref name="level"/> goes.</summary>
    public readonly NodeFilter LookAlike(Node old, int level)
    {
        NodeFilter narrowed = this;
        if (level >= 1 && old.Isp != TagTable.None)
        {
            narrowed.Isp = old.Isp;
        }

        if (level >= 2 && old.Asn != 0)
        {
            narrowed.Asn = old.Asn;
        }

        if (level >= 3 && old.City != TagTable.None)
        {
            narrowed.City = old.City;
        }

        return narrowed;
    }
}
