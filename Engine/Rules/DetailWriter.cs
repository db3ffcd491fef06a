using System.Buffers.Text;

namespace Engine.Rules;

/// <summary>
/// Writes a one-line detail into a fixed buffer: never past its end (a cut ends in "..."), and user bytes echoed
/// as printable ASCII only, because the detail goes into a header line (errors.md).
/// </summary>
internal ref struct DetailWriter
{
    /// <summary>Longest piece of user input echoed; the rest is elided so the hint itself fits.</summary>
    public const int MaxEcho = 64;

    private readonly Span<byte> _destination;
    private int _written;
    private bool _cut;

    public DetailWriter(Span<byte> destination) => _destination = destination;

    public void Text(scoped ReadOnlySpan<byte> ascii)
    {
        foreach (byte b in ascii)
        {
            Put(b);
        }
    }

    /// <summary>User bytes: anything outside 0x20..0x7E becomes '?'; optionally folded to lowercase.</summary>
    public void Echo(ReadOnlySpan<byte> user, bool lowercase = false)
    {
        ReadOnlySpan<byte> shown = user.Length > MaxEcho ? user[..MaxEcho] : user;
        foreach (byte b in shown)
        {
            byte c = b is < 0x20 or > 0x7E ? (byte)'?' : b;
            if (lowercase && c is >= (byte)'A' and <= (byte)'Z')
            {
                c |= 0x20;
            }

            Put(c);
        }

        if (shown.Length < user.Length)
        {
            Text("..."u8);
        }
    }

    public void Number(long value)
    {
        Span<byte> digits = stackalloc byte[20];
        if (Utf8Formatter.TryFormat(value, digits, out int length))
        {
            Text(digits[..length]);
        }
    }

    /// <summary>Bytes written; a detail that did not fit ends in "..." where the room allows.</summary>
    public readonly int Finish()
    {
        if (_cut && _destination.Length >= 3)
        {
            "..."u8.CopyTo(_destination[^3..]);
        }

        return _written;
    }

    private void Put(byte b)
    {
        if (_written < _destination.Length)
        {
            _destination[_written++] = b;
        }
        else
        {
            _cut = true;
        }
    }
}
