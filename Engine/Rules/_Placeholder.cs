// PLACEHOLDER until the rules branch merges: the API the connection codes against (see the
// rules helper's brief). Minimal behaviour only; replaced wholesale by Engine/Rules/*.cs.
#pragma warning disable
using Engine.Errors;

namespace Engine.Rules;

[Flags] internal enum RuleFlags : ushort { None = 0, Country = 1, Region = 2, City = 4, Isp = 8, Asn = 16, Network = 32, Session = 64, SessionLength = 128, IdleTtl = 256, BindNode = 512, RotateTimed = 1024, RotateRequests = 2048, OnError = 4096, PreferLookalike = 8192 }
internal enum OnErrorMode : byte { Replace, Fail, Retry }
internal readonly record struct ValueRange(int Start, int Length) { public ReadOnlySpan<byte> Of(ReadOnlySpan<byte> username) => username.Slice(Start, Length); public bool IsEmpty => Length == 0; }
internal struct RuleSet
{
    public RuleFlags Present; public ushort Country; public bool CountryAny;
    public ValueRange Region, City, Isp, Session; public uint Asn; public RuleNetwork Network;
    public int SessionLengthSeconds, IdleTtlSeconds, RotateSeconds, RotateRequests; public OnErrorMode OnError; public int Retries; public bool BindNode, PreferLookalike;
}
internal readonly struct RuleError
{
    public RuleError(ErrorCode code, ValueRange param) { Code = code; Param = param; }
    public ErrorCode Code { get; }
    public ValueRange Param { get; }
    public int FormatDetail(ReadOnlySpan<byte> username, Span<byte> destination) { "invalid rules"u8.CopyTo(destination); return 13; }
}
internal sealed class RulePolicy
{
    public static RulePolicy AllowAll { get; } = new();
    public static RulePolicy Create(IReadOnlyList<string>? allowedRules, IReadOnlyList<string>? allowedNetworks) => AllowAll;
    public bool IsNetworkAllowed(RuleNetwork network) => true;
}
internal static class RuleParser
{
    public static bool TryParse(ReadOnlySpan<byte> u, RulePolicy policy, out RuleSet r, out RuleError error)
    {
        r = default; r.SessionLengthSeconds = 600; error = default;
        if (u.IsEmpty) { error = new RuleError(ErrorCode.ErrMissingParams, default); return false; }
        int i = 0;
        while (i < u.Length)
        {
            int a = u[i..].IndexOf((byte)'-'); if (a < 0) { error = new RuleError(ErrorCode.ErrInvalidValue, new(i, u.Length - i)); return false; }
            int vs = i + a + 1; int b = u[vs..].IndexOf((byte)'-'); int ve = b < 0 ? u.Length : vs + b;
            ReadOnlySpan<byte> name = u.Slice(i, a); var vr = new ValueRange(vs, ve - vs); ReadOnlySpan<byte> v = vr.Of(u);
            switch (System.Text.Encoding.ASCII.GetString(name))
            {
                case "country": if (v.SequenceEqual("any"u8)) r.CountryAny = true; else r.Country = (ushort)((v[0] << 8) | v[1]); r.Present |= RuleFlags.Country; break;
                case "city": r.City = vr; r.Present |= RuleFlags.City; break;
                case "region": r.Region = vr; r.Present |= RuleFlags.Region; break;
                case "isp": r.Isp = vr; r.Present |= RuleFlags.Isp; break;
                case "asn": r.Asn = uint.Parse(v); r.Present |= RuleFlags.Asn; break;
                case "network": r.Network = v[0] == 'r' ? RuleNetwork.Res : v[0] == 'm' ? RuleNetwork.Mob : v[0] == 'd' ? RuleNetwork.Dc : RuleNetwork.Any; break;
                case "session": r.Session = vr; r.Present |= RuleFlags.Session; break;
                case "sessionlength": r.SessionLengthSeconds = int.Parse(v); break;
                case "idlettl": r.IdleTtlSeconds = int.Parse(v); break;
                case "bind": r.BindNode = true; break;
                case "prefer": r.PreferLookalike = true; break;
                case "rotate": if (v.StartsWith("timed_"u8)) r.RotateSeconds = int.Parse(v[6..]); else r.RotateRequests = int.Parse(v[9..]); break;
                case "onerror": if (v.SequenceEqual("fail"u8)) r.OnError = OnErrorMode.Fail; else if (v.StartsWith("retry_"u8)) { r.OnError = OnErrorMode.Retry; r.Retries = int.Parse(v[6..]); } break;
                default: error = new RuleError(ErrorCode.ErrUnknownParam, new(i, a)); return false;
            }
            i = ve + 1;
        }
        return true;
    }
}
internal static class RuleFormatter
{
    public static int Format(in RuleSet rules, ReadOnlySpan<byte> username, Span<byte> destination, bool includeSession)
    {
        int n = 0; username.CopyTo(destination); n = username.Length;
        if (!includeSession && !rules.Session.IsEmpty) { destination[rules.Session.Start..(rules.Session.Start + rules.Session.Length)].Fill((byte)'*'); }
        return n;
    }
}
