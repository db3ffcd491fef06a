namespace Engine.Limits;

/// <summary>
/// When a package's traffic cap (<c>Packages[].TrafficPeriod</c>) starts again: never (a lifetime cap), at each
/// UTC midnight, or at 00:00 UTC on the first of each month.
/// </summary>
internal enum TrafficPeriod : byte
{
    None,
    Day,
    Month,
}
