namespace Engine.Http;

/// <summary>Result of <see cref="LineScanner.Find"/>.</summary>
internal enum LineScan : byte
{
    NeedMore = 0,
    Found,
    TooLong,
    BareCR,
    BareLF,
}
