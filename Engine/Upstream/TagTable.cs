using System.Text;

namespace Engine.Upstream;

/// <summary>
/// The distinct values of one tag (region, city or ISP) across the pool, numbered once per
/// configuration load, so filters and nodes compare ints and a rule's value is looked up from
/// the username's bytes without making a string.
/// </summary>
internal sealed class TagTable
{
    /// <summary>A filter value that no node carries: matches nothing.</summary>
    public const int Unknown = -2;

    /// <summary>No filter / untagged node.</summary>
    public const int None = -1;

    private readonly Dictionary<byte[], int> _ids = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private readonly List<string> _names = [];

    // Config time: a pool of 100,000 nodes repeats a few hundred city names; look the string up first.
    private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);

    public TagTable() => _lookup = _ids.GetAlternateLookup<ReadOnlySpan<byte>>();

    public int Count => _names.Count;

    /// <summary>Config time: the id of <paramref name="value"/>, added when new; null → <see cref="None"/>.</summary>
    public int Intern(string? value)
    {
        if (value is null)
        {
            return None;
        }

        if (_byName.TryGetValue(value, out int known))
        {
            return known;
        }

        byte[] key = Encoding.ASCII.GetBytes(value);
        if (!_ids.TryGetValue(key, out int id))
        {
            id = _names.Count;
            _ids.Add(key, id);
            _names.Add(value);
        }

        _byName[value] = id;

        return id;
    }

    /// <summary>Request time: the id of a rule value; empty → <see cref="None"/>, not carried by any node → <see cref="Unknown"/>.</summary>
    public int Find(ReadOnlySpan<byte> value) =>
        value.IsEmpty ? None : _lookup.TryGetValue(value, out int id) ? id : Unknown;

    public string Name(int id) => _names[id];

    private sealed class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static ByteKeyComparer Instance { get; } = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => Hash(obj);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

        // Seeded per process: clients choosing values cannot aim for collisions.
        private static int Hash(ReadOnlySpan<byte> bytes)
        {
            var hash = default(HashCode);
            hash.AddBytes(bytes);
            return hash.ToHashCode();
        }
    }
}
