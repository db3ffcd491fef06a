namespace Engine.Rules;

internal readonly partial struct RuleError
{
    private static ReadOnlySpan<byte> SessionExample => ": add session-<id>, e.g. session-abc123"u8;

    /// <summary>
    /// Writes a one-line, printable-ASCII detail that says how to fix it, e.g.
    /// "unknown rule 'angeles': a hyphen inside a value? write city-los_angeles (underscores for spaces)".
    /// Never more than <paramref name="destination"/>.Length bytes (a cut ends in "..."); returns the bytes written.
    /// </summary>
    public int FormatDetail(ReadOnlySpan<byte> username, Span<byte> destination)
    {
        var w = new DetailWriter(destination);
        ReadOnlySpan<byte> param = Slice(username, Param);
        ReadOnlySpan<byte> value = Slice(username, Value);
        RuleName kind = RuleParser.ClassifyFolded(param);
        switch (Problem)
        {
            case RuleProblem.None:
                break;

            case RuleProblem.EmptyUsername:
                w.Text("no targeting rule in the username: add at least one, e.g. country-any (any exit) or country-us"u8);
                break;

            case RuleProblem.UnknownName:
                WriteUnknownName(ref w, username, param);
                break;

            case RuleProblem.EmptyName:
                w.Text("empty rule name at byte "u8);
                w.Number(Param.Start);
                w.Text(": remove the extra '-' (name-value pairs joined by single hyphens, e.g. country-us-city-paris)"u8);
                break;

            case RuleProblem.UppercaseName:
                w.Text("rule names are lowercase: write "u8);
                WritePair(ref w, param, value, lowercase: true);
                w.Text(", not "u8);
                WritePair(ref w, param, value, lowercase: false);
                break;

            case RuleProblem.NameWithoutValue:
                w.Text("rule '"u8);
                w.Echo(param);
                w.Text("' has no value: write "u8);
                w.Echo(param);
                w.Text("-<value>, e.g. "u8);
                w.Text(ExampleOf(kind));
                break;

            case RuleProblem.UppercaseValue:
                w.Text(kind == RuleName.Country ? "country codes are lowercase: write "u8 : "rule values are lowercase: write "u8);
                WritePair(ref w, param, value, lowercase: true);
                w.Text(", not "u8);
                WritePair(ref w, param, value, lowercase: false);
                break;

            case RuleProblem.BadCharacters:
                w.Text("the value of '"u8);
                w.Echo(param);
                w.Text("' may use only a-z, 0-9 and _ (underscores for spaces), got '"u8);
                w.Echo(value);
                w.Text("'"u8);
                break;

            case RuleProblem.ValueTooLong:
                w.Text("the value of '"u8);
                w.Echo(param);
                w.Text("' is "u8);
                w.Number(Value.Length);
                w.Text(" characters, at most "u8);
                w.Number(RuleParser.MaxTextValueLength);
                break;

            case RuleProblem.SessionIdTooLong:
                w.Text("the "u8);
                w.Echo(param);
                w.Text(" id is "u8);
                w.Number(Value.Length);
                w.Text(" characters, at most "u8);
                w.Number(RuleParser.MaxSessionIdLength);
                w.Text(" (a-z, 0-9, _)"u8);
                break;

            case RuleProblem.NotCountryCode:
                w.Text("'"u8);
                w.Echo(value);
                w.Text("' is not a "u8);
                w.Echo(param);
                w.Text(" code: use ISO 3166-1 alpha-2, two letters (e.g. country-us), or country-any"u8);
                break;

            case RuleProblem.UnknownCountry:
                w.Text("unknown "u8);
                w.Echo(param);
                w.Text(" code '"u8);
                w.Echo(value);
                w.Text("' (ISO 3166-1 alpha-2, or any)"u8);
                break;

            case RuleProblem.CountryUkIsGb:
                w.Text("unknown "u8);
                w.Echo(param);
                w.Text(" code 'uk': the United Kingdom is gb in ISO 3166-1, write country-gb"u8);
                break;

            case RuleProblem.BadNumber:
                w.Text("'"u8);
                w.Echo(param);
                w.Text("' needs a plain decimal number (no sign, no spaces): got "u8);
                WritePair(ref w, param, value, lowercase: false);
                w.Text(", e.g. "u8);
                w.Text(ExampleOf(kind, value));
                break;

            case RuleProblem.LeadingZero:
                w.Text("numbers have no leading zeros: write "u8);
                WriteWithoutLeadingZeros(ref w, param, value);
                w.Text(", not "u8);
                WritePair(ref w, param, value, lowercase: false);
                break;

            case RuleProblem.OutOfRange:
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" is out of range: "u8);
                w.Text(RangeOf(kind, value));
                break;

            case RuleProblem.UnknownNetwork:
                w.Text("unknown "u8);
                w.Echo(param);
                w.Text(" '"u8);
                w.Echo(value);
                w.Text("': write network-res, network-mob, network-dc or network-any"u8);
                break;

            case RuleProblem.UnknownOption:
                WriteUnknownOption(ref w, kind, param, value);
                break;

            case RuleProblem.Duplicate:
                w.Text("'"u8);
                w.Echo(param);
                w.Text("' given twice ("u8);
                w.Echo(Slice(username, Previous));
                w.Text(" and "u8);
                WritePair(ref w, param, value, lowercase: false);
                w.Text(kind switch
                {
                    RuleName.OnError => "): onerror-replace, onerror-fail and onerror-retry_N are one rule, keep one"u8,
                    _ => "): keep one"u8,
                });
                break;

            case RuleProblem.AliasDuplicate:
                w.Text("session and sessionid are the same rule (sessionid is the older name): keep one of "u8);
                w.Echo(Slice(username, Previous));
                w.Text(" and "u8);
                WritePair(ref w, param, value, lowercase: false);
                break;

            case RuleProblem.BindWithRotate:
                w.Text("bind-node never changes the session's node and "u8);
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" does: remove one"u8);
                break;

            case RuleProblem.RotateTimedWithRequests:
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" and "u8);
                w.Echo(Slice(username, Previous));
                w.Text(" contradict each other (a new node every N seconds or every N requests): keep one"u8);
                break;

            case RuleProblem.BindWithOnErrorReplace:
                w.Text("bind-node never replaces the session's node and "u8);
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" does: remove one (with bind-node a node failure is BOUND_NODE_FAILED; onerror-retry_N still applies)"u8);
                break;

            case RuleProblem.BindWithPreferLookalike:
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" shapes a replacement node and bind-node never replaces one: remove one"u8);
                break;

            case RuleProblem.BindWithoutSession:
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" keeps a session's node, so it needs a session"u8);
                w.Text(SessionExample);
                break;

            case RuleProblem.SessionLengthWithoutSession:
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" sets a session's lifetime, so it needs a session"u8);
                w.Text(SessionExample);
                break;

            case RuleProblem.IdleTtlWithoutSession:
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" ends an idle session, so it needs a session"u8);
                w.Text(SessionExample);
                break;

            case RuleProblem.RotateWithoutSession:
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" rotates a session's node, so it needs a session (without one every request may get a new node anyway)"u8);
                w.Text(SessionExample);
                break;

            case RuleProblem.RuleNotAllowed:
                w.Text("rule '"u8);
                w.Echo(param);
                w.Text("' is not allowed on this package: remove "u8);
                WritePair(ref w, param, value, lowercase: false);
                break;

            case RuleProblem.NetworkNotAllowed:
                WritePair(ref w, param, value, lowercase: false);
                w.Text(" is not allowed on this package: use a network it allows, or leave "u8);
                w.Echo(param);
                w.Text(" out"u8);
                break;

            default:
                w.Text("invalid rule '"u8);
                w.Echo(param);
                w.Text("'"u8);
                break;
        }

        return w.Finish();
    }

    /// <summary>A range from another username (or none) must not throw: clamp it.</summary>
    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> username, ValueRange range)
    {
        int start = Math.Clamp(range.Start, 0, username.Length);
        int length = Math.Clamp(range.Length, 0, username.Length - start);
        return username.Slice(start, length);
    }

    private static void WritePair(ref DetailWriter w, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, bool lowercase)
    {
        w.Echo(name, lowercase);
        if (!value.IsEmpty)
        {
            w.Text("-"u8);
            w.Echo(value, lowercase);
        }
    }

    private void WriteUnknownName(ref DetailWriter w, ReadOnlySpan<byte> username, ReadOnlySpan<byte> param)
    {
        w.Text("unknown rule '"u8);
        w.Echo(param);
        w.Text("'"u8);
        ReadOnlySpan<byte> previous = Slice(username, Previous);
        int dash = previous.IndexOf((byte)'-');
        RuleName previousKind = dash < 0 ? RuleName.None : RuleParser.Classify(previous[..dash]);
        if (previousKind is RuleName.Region or RuleName.City or RuleName.Isp or RuleName.Session or RuleName.SessionId)
        {
            // The usual cause (rules.md): a value with a hyphen, split into a pair and a stray name.
            w.Text(": a hyphen inside a value? write "u8);
            w.Echo(previous);
            w.Text("_"u8);
            w.Echo(param, lowercase: true);
            w.Text(" (underscores for spaces)"u8);
        }
        else
        {
            w.Text(": rules are country, region, city, isp, asn, network, session, sessionlength, idlettl, bind, rotate, onerror, prefer"u8);
        }
    }

    private static void WriteUnknownOption(ref DetailWriter w, RuleName kind, ReadOnlySpan<byte> param, ReadOnlySpan<byte> value)
    {
        w.Text("unknown "u8);
        w.Echo(param);
        w.Text(" value '"u8);
        w.Echo(value);
        w.Text(kind switch
        {
            RuleName.Bind => "': write bind-node"u8,
            RuleName.Prefer => "': write prefer-lookalike"u8,
            RuleName.Rotate => "': write rotate-timed_N (seconds, 1..86400) or rotate-requests_N (1..1000000)"u8,
            RuleName.OnError => "': write onerror-replace, onerror-fail or onerror-retry_N (N 1..10)"u8,
            _ => "'"u8,
        });
    }

    private static void WriteWithoutLeadingZeros(ref DetailWriter w, ReadOnlySpan<byte> param, ReadOnlySpan<byte> value)
    {
        // The number is what follows the last '_' (rotate-timed_N, onerror-retry_N) or the whole value.
        int numberStart = value.LastIndexOf((byte)'_') + 1;
        ReadOnlySpan<byte> number = value[numberStart..];
        int zeros = number.IndexOfAnyExcept((byte)'0');
        zeros = zeros < 0 ? Math.Max(number.Length - 1, 0) : zeros;
        w.Echo(param);
        w.Text("-"u8);
        w.Echo(value[..numberStart]);
        w.Echo(number[zeros..]);
    }

    private static ReadOnlySpan<byte> ExampleOf(RuleName kind, ReadOnlySpan<byte> value = default) => kind switch
    {
        RuleName.Country => "country-us"u8,
        RuleName.Region => "region-california"u8,
        RuleName.City => "city-new_york"u8,
        RuleName.Isp => "isp-comcast"u8,
        RuleName.Asn => "asn-7922"u8,
        RuleName.Network => "network-res"u8,
        RuleName.Session => "session-abc123"u8,
        RuleName.SessionId => "sessionid-abc123"u8,
        RuleName.SessionLength => "sessionlength-600"u8,
        RuleName.IdleTtl => "idlettl-300"u8,
        RuleName.Bind => "bind-node"u8,
        RuleName.Rotate => value.StartsWith("requests"u8) ? "rotate-requests_100"u8 : "rotate-timed_300"u8,
        RuleName.OnError => value.StartsWith("retry"u8) ? "onerror-retry_3"u8 : "onerror-fail"u8,
        RuleName.Prefer => "prefer-lookalike"u8,
        _ => "country-us"u8,
    };

    private static ReadOnlySpan<byte> RangeOf(RuleName kind, ReadOnlySpan<byte> value) => kind switch
    {
        RuleName.Asn => "an ASN is 1..4294967295"u8,
        RuleName.SessionLength or RuleName.IdleTtl => "seconds, 1..86400 (one day)"u8,
        RuleName.Rotate => value.StartsWith("requests"u8) ? "requests, 1..1000000"u8 : "seconds, 1..86400 (one day)"u8,
        RuleName.OnError => "retries, 1..10"u8,
        _ => "see rules"u8,
    };
}
