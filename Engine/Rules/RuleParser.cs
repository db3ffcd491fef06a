using System.Buffers;
using System.Runtime.CompilerServices;

namespace Engine.Rules;

/// <summary>
/// The username's targeting rules (rules.md): <c>name-value</c> pairs joined by <c>-</c>, taken two tokens at a
/// time, checked against the grammar, the combinations and the package's policy. Works on the bytes in place and
/// allocates nothing on either path; the scan is linear and stops at the first mistake, and since every accepted
/// pair sets a rule that may not repeat, it takes at most 15 pairs whatever the input length.
/// </summary>
internal static class RuleParser
{
    /// <summary>Bound on region, city and isp values: no real place or carrier name comes near it.</summary>
    public const int MaxTextValueLength = 64;

    /// <summary>rules.md: <c>session-X</c> is <c>[a-z0-9_]{1,64}</c>.</summary>
    public const int MaxSessionIdLength = 64;

    /// <summary>rules.md: sessionlength, idlettl and rotate-timed are 1..86400 seconds (one day).</summary>
    public const int MaxSeconds = 86_400;

    public const int MaxRotateRequests = 1_000_000;

    public const int MaxRetries = 10;

    private static readonly SearchValues<byte> s_valueBytes = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789_"u8);
    private static readonly SearchValues<byte> s_valueOrUpperBytes = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"u8);

    private static ReadOnlySpan<byte> Any => "any"u8;
    private static ReadOnlySpan<byte> TimedPrefix => "timed_"u8;
    private static ReadOnlySpan<byte> RequestsPrefix => "requests_"u8;
    private static ReadOnlySpan<byte> RetryPrefix => "retry_"u8;

    /// <summary>true: rules parsed and valid under <paramref name="policy"/>. false: <paramref name="error"/> says why.</summary>
    public static bool TryParse(ReadOnlySpan<byte> username, RulePolicy policy, out RuleSet rules, out RuleError error)
    {
        rules = RuleSet.Default;
        if (username.IsEmpty)
        {
            error = new RuleError(RuleProblem.EmptyUsername, default, default, default);
            return false;
        }

        ValueRange previous = default;
        int position = 0;
        while (true)
        {
            int nameLength = username[position..].IndexOf((byte)'-');
            bool lastToken = nameLength < 0;
            if (lastToken)
            {
                nameLength = username.Length - position;
            }

            var name = new ValueRange(position, nameLength);
            RuleName kind = Classify(name.Of(username));
            if (kind == RuleName.None)
            {
                error = NameError(username, name, previous);
                return false;
            }

            int valueStart = position + nameLength + 1;
            int valueLength = lastToken ? -1 : username[valueStart..].IndexOf((byte)'-');
            bool lastValue = valueLength < 0;
            if (lastToken)
            {
                valueStart = username.Length;
                valueLength = 0;
            }
            else if (lastValue)
            {
                valueLength = username.Length - valueStart;
            }

            var value = new ValueRange(valueStart, valueLength);
            RuleProblem problem = valueLength == 0 ? RuleProblem.NameWithoutValue : Apply(username, kind, value, policy, ref rules);
            if (problem != RuleProblem.None)
            {
                error = PairError(username, problem, kind, name, value, previous);
                return false;
            }

            previous = new ValueRange(position, nameLength + 1 + valueLength);
            if (lastValue)
            {
                break;
            }

            // A trailing '-' leaves position == username.Length: the next name is empty, an error.
            position = valueStart + valueLength + 1;
        }

        RuleProblem combination = CheckCombinations(in rules);
        if (combination != RuleProblem.None)
        {
            error = CombinationError(username, combination);
            return false;
        }

        error = default;
        return true;
    }

    /// <summary>The rule a name token names, exactly as written (lowercase); None for anything else.</summary>
    public static RuleName Classify(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 => name.SequenceEqual("isp"u8) ? RuleName.Isp : name.SequenceEqual("asn"u8) ? RuleName.Asn : RuleName.None,
        4 => name.SequenceEqual("city"u8) ? RuleName.City : name.SequenceEqual("bind"u8) ? RuleName.Bind : RuleName.None,
        6 => name.SequenceEqual("region"u8) ? RuleName.Region
            : name.SequenceEqual("rotate"u8) ? RuleName.Rotate
            : name.SequenceEqual("prefer"u8) ? RuleName.Prefer
            : RuleName.None,
        7 => name.SequenceEqual("country"u8) ? RuleName.Country
            : name.SequenceEqual("session"u8) ? RuleName.Session
            : name.SequenceEqual("network"u8) ? RuleName.Network
            : name.SequenceEqual("idlettl"u8) ? RuleName.IdleTtl
            : name.SequenceEqual("onerror"u8) ? RuleName.OnError
            : RuleName.None,
        9 => name.SequenceEqual("sessionid"u8) ? RuleName.SessionId : RuleName.None,
        13 => name.SequenceEqual("sessionlength"u8) ? RuleName.SessionLength : RuleName.None,
        _ => RuleName.None,
    };

    /// <summary><see cref="Classify"/> after folding ASCII upper case, for the "names are lowercase" hint.</summary>
    public static RuleName ClassifyFolded(ReadOnlySpan<byte> name)
    {
        if (name.Length > 13)
        {
            return RuleName.None;
        }

        Span<byte> folded = stackalloc byte[13];
        for (int i = 0; i < name.Length; i++)
        {
            byte b = name[i];
            folded[i] = b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
        }

        return Classify(folded[..name.Length]);
    }

    /// <summary>The flags a rule name sets; <c>rotate</c> covers both of its modes, so either repeats as a duplicate.</summary>
    public static RuleFlags FlagsOf(RuleName kind) => kind switch
    {
        RuleName.Country => RuleFlags.Country,
        RuleName.Region => RuleFlags.Region,
        RuleName.City => RuleFlags.City,
        RuleName.Isp => RuleFlags.Isp,
        RuleName.Asn => RuleFlags.Asn,
        RuleName.Network => RuleFlags.Network,
        RuleName.Session or RuleName.SessionId => RuleFlags.Session,
        RuleName.SessionLength => RuleFlags.SessionLength,
        RuleName.IdleTtl => RuleFlags.IdleTtl,
        RuleName.Bind => RuleFlags.BindNode,
        RuleName.Rotate => RuleFlags.RotateTimed | RuleFlags.RotateRequests,
        RuleName.OnError => RuleFlags.OnError,
        RuleName.Prefer => RuleFlags.PreferLookalike,
        _ => RuleFlags.None,
    };

    private static RuleProblem Apply(ReadOnlySpan<byte> username, RuleName kind, ValueRange range, RulePolicy policy, ref RuleSet rules)
    {
        RuleFlags flags = FlagsOf(kind);
        // rotate's two modes are told apart by the value (ApplyRotate): the same mode twice is a duplicate, the
        // two modes together a contradiction (rules.md), found with the other combinations.
        if ((rules.Present & flags) != 0 && kind != RuleName.Rotate)
        {
            return RuleProblem.Duplicate;
        }

        if ((policy.AllowedRules & flags) == 0)
        {
            return RuleProblem.RuleNotAllowed;
        }

        ReadOnlySpan<byte> value = range.Of(username);
        RuleProblem problem;
        uint number;
        switch (kind)
        {
            case RuleName.Country:
                return ApplyCountry(value, ref rules);

            case RuleName.Region or RuleName.City or RuleName.Isp:
                problem = CheckText(value);
                if (problem != RuleProblem.None)
                {
                    return problem;
                }

                if (value.Length > MaxTextValueLength)
                {
                    return RuleProblem.ValueTooLong;
                }

                if (kind == RuleName.Region)
                {
                    rules.Region = range;
                }
                else if (kind == RuleName.City)
                {
                    rules.City = range;
                }
                else
                {
                    rules.Isp = range;
                }

                break;

            case RuleName.Asn:
                problem = ParseNumber(value, uint.MaxValue, out number);
                if (problem != RuleProblem.None)
                {
                    return problem;
                }

                rules.Asn = number;
                break;

            case RuleName.Network:
                problem = CheckText(value);
                if (problem != RuleProblem.None)
                {
                    return problem;
                }

                RuleNetwork network = value.SequenceEqual("res"u8) ? RuleNetwork.Res
                    : value.SequenceEqual("mob"u8) ? RuleNetwork.Mob
                    : value.SequenceEqual("dc"u8) ? RuleNetwork.Dc
                    : value.SequenceEqual(Any) ? RuleNetwork.Any
                    : RuleNetwork.Unset;
                if (network == RuleNetwork.Unset)
                {
                    return RuleProblem.UnknownNetwork;
                }

                if (!policy.IsNetworkAllowed(network))
                {
                    return RuleProblem.NetworkNotAllowed;
                }

                rules.Network = network;
                break;

            case RuleName.Session or RuleName.SessionId:
                problem = CheckText(value);
                if (problem != RuleProblem.None)
                {
                    return problem;
                }

                if (value.Length > MaxSessionIdLength)
                {
                    return RuleProblem.SessionIdTooLong;
                }

                rules.Session = range;
                break;

            case RuleName.SessionLength or RuleName.IdleTtl:
                problem = ParseNumber(value, MaxSeconds, out number);
                if (problem != RuleProblem.None)
                {
                    return problem;
                }

                if (kind == RuleName.SessionLength)
                {
                    rules.SessionLengthSeconds = (int)number;
                }
                else
                {
                    rules.IdleTtlSeconds = (int)number;
                }

                break;

            case RuleName.Bind:
                problem = CheckText(value);
                if (problem != RuleProblem.None)
                {
                    return problem;
                }

                if (!value.SequenceEqual("node"u8))
                {
                    return RuleProblem.UnknownOption;
                }

                rules.BindNode = true;
                break;

            case RuleName.Prefer:
                problem = CheckText(value);
                if (problem != RuleProblem.None)
                {
                    return problem;
                }

                if (!value.SequenceEqual("lookalike"u8))
                {
                    return RuleProblem.UnknownOption;
                }

                rules.PreferLookalike = true;
                break;

            case RuleName.Rotate:
                return ApplyRotate(value, policy, ref rules);

            case RuleName.OnError:
                return ApplyOnError(value, ref rules);

            default:
                return RuleProblem.UnknownOption;
        }

        rules.Present |= flags;
        return RuleProblem.None;
    }

    private static RuleProblem ApplyCountry(ReadOnlySpan<byte> value, ref RuleSet rules)
    {
        RuleProblem problem = CheckText(value);
        if (problem != RuleProblem.None)
        {
            return problem;
        }

        if (value.SequenceEqual(Any))
        {
            rules.CountryAny = true;
        }
        else
        {
            if (value.Length != 2)
            {
                return RuleProblem.NotCountryCode;
            }

            ushort packed = IsoCountries.Pack(value[0], value[1]);
            if (!IsoCountries.IsAssigned(packed))
            {
                return packed == IsoCountries.Pack((byte)'u', (byte)'k') ? RuleProblem.CountryUkIsGb : RuleProblem.UnknownCountry;
            }

            rules.Country = packed;
        }

        rules.Present |= RuleFlags.Country;
        return RuleProblem.None;
    }

    private static RuleProblem ApplyRotate(ReadOnlySpan<byte> value, RulePolicy policy, ref RuleSet rules)
    {
        RuleProblem problem = CheckText(value);
        if (problem != RuleProblem.None)
        {
            return problem;
        }

        RuleFlags flag;
        ReadOnlySpan<byte> digits;
        if (value.StartsWith(TimedPrefix))
        {
            flag = RuleFlags.RotateTimed;
            digits = value[TimedPrefix.Length..];
        }
        else if (value.StartsWith(RequestsPrefix))
        {
            flag = RuleFlags.RotateRequests;
            digits = value[RequestsPrefix.Length..];
        }
        else
        {
            return RuleProblem.UnknownOption;
        }

        // As for every other rule: a repeat, then the package's policy, then the value
        // (rules.md: "a forbidden rule is ERR_PARAM_NOT_ALLOWED whatever its value").
        if ((rules.Present & flag) != 0)
        {
            return RuleProblem.Duplicate;
        }

        // A policy may allow one mode only (AllowedRules "rotate-timed").
        if ((policy.AllowedRules & flag) == 0)
        {
            return RuleProblem.RuleNotAllowed;
        }

        problem = ParseNumber(digits, flag == RuleFlags.RotateTimed ? (uint)MaxSeconds : MaxRotateRequests, out uint number);
        if (problem != RuleProblem.None)
        {
            return problem;
        }

        if (flag == RuleFlags.RotateTimed)
        {
            rules.RotateSeconds = (int)number;
        }
        else
        {
            rules.RotateRequests = (int)number;
        }

        rules.Present |= flag;
        return RuleProblem.None;
    }

    private static RuleProblem ApplyOnError(ReadOnlySpan<byte> value, ref RuleSet rules)
    {
        RuleProblem problem = CheckText(value);
        if (problem != RuleProblem.None)
        {
            return problem;
        }

        if (value.SequenceEqual("replace"u8))
        {
            rules.OnError = OnErrorMode.Replace;
        }
        else if (value.SequenceEqual("fail"u8))
        {
            rules.OnError = OnErrorMode.Fail;
        }
        else if (value.StartsWith(RetryPrefix))
        {
            problem = ParseNumber(value[RetryPrefix.Length..], MaxRetries, out uint retries);
            if (problem != RuleProblem.None)
            {
                return problem;
            }

            rules.OnError = OnErrorMode.Retry;
            rules.Retries = (int)retries;
        }
        else
        {
            return RuleProblem.UnknownOption;
        }

        rules.Present |= RuleFlags.OnError;
        return RuleProblem.None;
    }

    /// <summary><c>[a-z0-9_]+</c>; tells upper case apart so the hint can say "lowercase".</summary>
    private static RuleProblem CheckText(ReadOnlySpan<byte> value)
    {
        int bad = value.IndexOfAnyExcept(s_valueBytes);
        if (bad < 0)
        {
            return RuleProblem.None;
        }

        return value[bad..].IndexOfAnyExcept(s_valueOrUpperBytes) < 0 ? RuleProblem.UppercaseValue : RuleProblem.BadCharacters;
    }

    /// <summary>Plain decimal 1..max: no sign, no leading zeros, no separators.</summary>
    internal static RuleProblem ParseNumber(ReadOnlySpan<byte> digits, uint max, out uint value)
    {
        value = 0;
        if (digits.IsEmpty || digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
        {
            return RuleProblem.BadNumber;
        }

        if (digits.Length > 1 && digits[0] == (byte)'0')
        {
            return RuleProblem.LeadingZero;
        }

        // Ten digits without a leading zero already exceed uint.MaxValue's ten when they are eleven or more.
        if (digits.Length > 10)
        {
            return RuleProblem.OutOfRange;
        }

        ulong n = 0;
        foreach (byte b in digits)
        {
            n = (n * 10) + (uint)(b - '0');
        }

        if (n == 0 || n > max)
        {
            return RuleProblem.OutOfRange;
        }

        value = (uint)n;
        return RuleProblem.None;
    }

    private static RuleProblem CheckCombinations(in RuleSet rules)
    {
        RuleFlags present = rules.Present;
        if ((present & RuleFlags.BindNode) != 0)
        {
            if ((present & (RuleFlags.RotateTimed | RuleFlags.RotateRequests)) != 0)
            {
                return RuleProblem.BindWithRotate;
            }

            // Only an explicit onerror-replace contradicts bind-node; the implicit default gives way to it.
            if ((present & RuleFlags.OnError) != 0 && rules.OnError == OnErrorMode.Replace)
            {
                return RuleProblem.BindWithOnErrorReplace;
            }

            if ((present & RuleFlags.PreferLookalike) != 0)
            {
                return RuleProblem.BindWithPreferLookalike;
            }
        }

        // A new node every N seconds and every N requests at once: the spec lists it as a contradiction.
        if ((present & (RuleFlags.RotateTimed | RuleFlags.RotateRequests)) == (RuleFlags.RotateTimed | RuleFlags.RotateRequests))
        {
            return RuleProblem.RotateTimedWithRequests;
        }

        if ((present & RuleFlags.Session) == 0)
        {
            if ((present & RuleFlags.BindNode) != 0)
            {
                return RuleProblem.BindWithoutSession;
            }

            if ((present & RuleFlags.SessionLength) != 0)
            {
                return RuleProblem.SessionLengthWithoutSession;
            }

            if ((present & RuleFlags.IdleTtl) != 0)
            {
                return RuleProblem.IdleTtlWithoutSession;
            }

            if ((present & (RuleFlags.RotateTimed | RuleFlags.RotateRequests)) != 0)
            {
                return RuleProblem.RotateWithoutSession;
            }
        }

        return RuleProblem.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static RuleError NameError(ReadOnlySpan<byte> username, ValueRange name, ValueRange previous)
    {
        if (name.IsEmpty)
        {
            return new RuleError(RuleProblem.EmptyName, name, default, previous);
        }

        if (ClassifyFolded(name.Of(username)) == RuleName.None)
        {
            return new RuleError(RuleProblem.UnknownName, name, default, previous);
        }

        // `Country-us`: a known rule in the wrong case. ERR_INVALID_VALUE rather than ERR_UNKNOWN_PARAM: the
        // catalog files "uppercase" under invalid value, and the fix is the same lowercase one as for a value.
        int valueStart = Math.Min(name.Start + name.Length + 1, username.Length);
        int valueLength = username[valueStart..].IndexOf((byte)'-');
        return new RuleError(
            RuleProblem.UppercaseName,
            name,
            new ValueRange(valueStart, valueLength < 0 ? username.Length - valueStart : valueLength),
            previous);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static RuleError PairError(ReadOnlySpan<byte> username, RuleProblem problem, RuleName kind, ValueRange name, ValueRange value, ValueRange previous)
    {
        if (problem != RuleProblem.Duplicate)
        {
            return new RuleError(problem, name, value, previous);
        }

        // Point at the first occurrence; session and sessionid share one rule, so mixing them is the alias case.
        (ValueRange firstName, ValueRange firstPair) = FindPair(username, FlagsOf(kind));
        bool alias = Classify(firstName.Of(username)) != kind;
        return new RuleError(alias ? RuleProblem.AliasDuplicate : RuleProblem.Duplicate, name, value, firstPair);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static RuleError CombinationError(ReadOnlySpan<byte> username, RuleProblem problem)
    {
        if (problem == RuleProblem.RotateTimedWithRequests)
        {
            // Both pairs are named rotate: the error points at the second, the first is the one it contradicts.
            const RuleFlags Rotate = RuleFlags.RotateTimed | RuleFlags.RotateRequests;
            (_, ValueRange firstPair) = FindPair(username, Rotate);
            (ValueRange secondName, ValueRange secondPair) = FindPair(username, Rotate, from: firstPair.Start + firstPair.Length + 1);
            int secondValue = secondName.Start + secondName.Length + 1;
            return new RuleError(problem, secondName, new ValueRange(secondValue, secondPair.Start + secondPair.Length - secondValue), firstPair);
        }

        (RuleFlags param, RuleFlags other) = problem switch
        {
            RuleProblem.BindWithRotate => (RuleFlags.RotateTimed | RuleFlags.RotateRequests, RuleFlags.BindNode),
            RuleProblem.BindWithOnErrorReplace => (RuleFlags.OnError, RuleFlags.BindNode),
            RuleProblem.BindWithPreferLookalike => (RuleFlags.PreferLookalike, RuleFlags.BindNode),
            RuleProblem.BindWithoutSession => (RuleFlags.BindNode, RuleFlags.None),
            RuleProblem.SessionLengthWithoutSession => (RuleFlags.SessionLength, RuleFlags.None),
            RuleProblem.IdleTtlWithoutSession => (RuleFlags.IdleTtl, RuleFlags.None),
            _ => (RuleFlags.RotateTimed | RuleFlags.RotateRequests, RuleFlags.None),
        };

        (ValueRange name, ValueRange pair) = FindPair(username, param);
        int valueStart = name.Start + name.Length + 1;
        var value = new ValueRange(valueStart, pair.Start + pair.Length - valueStart);
        ValueRange previous = other == RuleFlags.None ? default : FindPair(username, other).Pair;
        return new RuleError(problem, name, value, previous);
    }

    /// <summary>The first pair whose name sets any of <paramref name="flags"/>, in a username already scanned up to it.</summary>
    private static (ValueRange Name, ValueRange Pair) FindPair(ReadOnlySpan<byte> username, RuleFlags flags, int from = 0)
    {
        int position = from;
        while (position < username.Length)
        {
            int nameLength = username[position..].IndexOf((byte)'-');
            if (nameLength < 0)
            {
                break;
            }

            int valueStart = position + nameLength + 1;
            int valueLength = username[valueStart..].IndexOf((byte)'-');
            if (valueLength < 0)
            {
                valueLength = username.Length - valueStart;
            }

            var name = new ValueRange(position, nameLength);
            if ((FlagsOf(Classify(name.Of(username))) & flags) != 0)
            {
                return (name, new ValueRange(position, nameLength + 1 + valueLength));
            }

            position = valueStart + valueLength + 1;
        }

        return (default, default);
    }
}
