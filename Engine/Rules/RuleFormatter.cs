using System.Buffers.Text;

namespace Engine.Rules;

/// <summary>
/// The canonical form of a <see cref="RuleSet"/>: the rules that were given, in one fixed order whatever the
/// input order (so <c>country-us-city-x</c> and <c>city-x-country-us</c> give the same bytes), the alias written
/// as <c>session</c>. A default is written only when it was given explicitly, because that is what makes the
/// re-parsed set equal (and an explicit <c>onerror-replace</c> is what bind-node is checked against).
/// </summary>
internal static class RuleFormatter
{
    /// <summary>Longest canonical form of any valid set (every rule at its longest value); a 512-byte buffer always fits.</summary>
    public const int MaxLength = 450;

    /// <summary>Returns bytes written, or -1 if <paramref name="destination"/> is too small.</summary>
    /// <param name="includeSession">false leaves out <c>session-X</c>: the session's locked-rules fingerprint.</param>
    public static int Format(in RuleSet rules, ReadOnlySpan<byte> username, Span<byte> destination, bool includeSession)
    {
        var w = new Writer(destination);
        RuleFlags present = rules.Present;
        if ((present & RuleFlags.Country) != 0)
        {
            if (rules.CountryAny)
            {
                w.Pair("country"u8, "any"u8);
            }
            else
            {
                Span<byte> code = [(byte)(rules.Country >> 8), (byte)rules.Country];
                w.Pair("country"u8, code);
            }
        }

        if ((present & RuleFlags.Region) != 0)
        {
            w.Pair("region"u8, rules.Region.Of(username));
        }

        if ((present & RuleFlags.City) != 0)
        {
            w.Pair("city"u8, rules.City.Of(username));
        }

        if ((present & RuleFlags.Isp) != 0)
        {
            w.Pair("isp"u8, rules.Isp.Of(username));
        }

        if ((present & RuleFlags.Asn) != 0)
        {
            w.NumberPair("asn"u8, default, rules.Asn);
        }

        if ((present & RuleFlags.Network) != 0)
        {
            w.Pair("network"u8, rules.Network switch
            {
                RuleNetwork.Res => "res"u8,
                RuleNetwork.Mob => "mob"u8,
                RuleNetwork.Dc => "dc"u8,
                _ => "any"u8,
            });
        }

        if (includeSession && (present & RuleFlags.Session) != 0)
        {
            w.Pair("session"u8, rules.Session.Of(username));
        }

        // The fingerprint compares meaning, not spelling: a default written out (sessionlength-600,
        // onerror-replace) locks the same session as leaving it out.
        if ((present & RuleFlags.SessionLength) != 0 && (includeSession || rules.SessionLengthSeconds != RuleSet.DefaultSessionLengthSeconds))
        {
            w.NumberPair("sessionlength"u8, default, (uint)rules.SessionLengthSeconds);
        }

        if ((present & RuleFlags.IdleTtl) != 0)
        {
            w.NumberPair("idlettl"u8, default, (uint)rules.IdleTtlSeconds);
        }

        if ((present & RuleFlags.BindNode) != 0)
        {
            w.Pair("bind"u8, "node"u8);
        }

        if ((present & RuleFlags.RotateTimed) != 0)
        {
            w.NumberPair("rotate"u8, "timed_"u8, (uint)rules.RotateSeconds);
        }

        if ((present & RuleFlags.RotateRequests) != 0)
        {
            w.NumberPair("rotate"u8, "requests_"u8, (uint)rules.RotateRequests);
        }

        if ((present & RuleFlags.OnError) != 0 && (includeSession || rules.OnError != OnErrorMode.Replace))
        {
            switch (rules.OnError)
            {
                case OnErrorMode.Fail:
                    w.Pair("onerror"u8, "fail"u8);
                    break;
                case OnErrorMode.Retry:
                    w.NumberPair("onerror"u8, "retry_"u8, (uint)rules.Retries);
                    break;
                default:
                    w.Pair("onerror"u8, "replace"u8);
                    break;
            }
        }

        if ((present & RuleFlags.PreferLookalike) != 0)
        {
            w.Pair("prefer"u8, "lookalike"u8);
        }

        return w.Result;
    }

    private ref struct Writer
    {
        private readonly Span<byte> _destination;
        private int _written;
        private bool _full;

        public Writer(Span<byte> destination) => _destination = destination;

        public readonly int Result => _full ? -1 : _written;

        public void Pair(ReadOnlySpan<byte> name, scoped ReadOnlySpan<byte> value)
        {
            if (_written > 0)
            {
                Put("-"u8);
            }

            Put(name);
            Put("-"u8);
            Put(value);
        }

        public void NumberPair(ReadOnlySpan<byte> name, ReadOnlySpan<byte> prefix, uint number)
        {
            Pair(name, prefix);
            if (!_full && Utf8Formatter.TryFormat(number, _destination[_written..], out int length))
            {
                _written += length;
            }
            else
            {
                _full = true;
            }
        }

        private void Put(scoped ReadOnlySpan<byte> bytes)
        {
            if (_full || !bytes.TryCopyTo(_destination[_written..]))
            {
                _full = true;
                return;
            }

            _written += bytes.Length;
        }
    }
}
