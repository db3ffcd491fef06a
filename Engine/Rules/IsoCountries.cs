namespace Engine.Rules;

/// <summary>
/// ISO 3166-1 alpha-2: the 249 officially assigned codes, lowercase. Not the exceptionally or transitionally
/// reserved ones (uk, eu, su, ...) nor user-assigned ones (xk for Kosovo): a node is tagged with what its
/// geolocation database reports, and those report assigned codes.
/// </summary>
internal static class IsoCountries
{
    public const int AssignedCount = 249;

    private static ReadOnlySpan<byte> Assigned =>
        "adaeafagaialamaoaqarasatauawaxaz"u8 +
        "babbbdbebfbgbhbibjblbmbnbobqbrbsbtbvbwbybz"u8 +
        "cacccdcfcgchcickclcmcncocrcucvcwcxcycz"u8 +
        "dedjdkdmdodz"u8 +
        "eceeegeheresetfifjfkfmfofr"u8 +
        "gagbgdgegfggghgiglgmgngpgqgrgsgtgugwgy"u8 +
        "hkhmhnhrhthu"u8 +
        "idieiliminioiqiris"u8 +
        "itjejmjojp"u8 +
        "kekgkhkikmknkpkrkwkykz"u8 +
        "lalblclilklrlsltlulvly"u8 +
        "mamcmdmemfmgmhmkmlmmmnmompmqmrmsmtmumvmwmxmymz"u8 +
        "nancnenfngninlnonpnrnunz"u8 +
        "om"u8 +
        "papepfpgphpkplpmpnprpsptpwpy"u8 +
        "qa"u8 +
        "rerorsrurw"u8 +
        "sasbscsdsesgshsisjskslsmsnsosrssstsvsxsysz"u8 +
        "tctdtftgthtjtktltmtntotrtttvtwtz"u8 +
        "uaugumusuyuz"u8 +
        "vavcvevgvivnvu"u8 +
        "wfws"u8 +
        "yeyt"u8 +
        "zazmzw"u8;

    // 26 x 26 = 676 bits: one per two-letter pair.
    private static readonly ulong[] s_bits = Build();

    /// <summary><paramref name="packed"/> is <c>(c0 &lt;&lt; 8) | c1</c>, lowercase.</summary>
    public static bool IsAssigned(ushort packed)
    {
        uint first = (uint)(packed >> 8) - 'a';
        uint second = (uint)(packed & 0xFF) - 'a';
        if (first >= 26 || second >= 26)
        {
            return false;
        }

        uint index = (first * 26) + second;
        return (s_bits[index >> 6] & (1UL << (int)(index & 63))) != 0;
    }

    public static ushort Pack(byte first, byte second) => (ushort)((first << 8) | second);

    private static ulong[] Build()
    {
        var bits = new ulong[(26 * 26 + 63) / 64];
        ReadOnlySpan<byte> codes = Assigned;
        for (int i = 0; i + 1 < codes.Length; i += 2)
        {
            int index = ((codes[i] - 'a') * 26) + (codes[i + 1] - 'a');
            bits[index >> 6] |= 1UL << (index & 63);
        }

        return bits;
    }
}
