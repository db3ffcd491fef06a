namespace Engine.Tests.Http;

/// <summary>A request as the test driver saw it; strings are ISO-8859-1 so bytes survive (conformance README).</summary>
internal sealed record DriverMessage(
    string Method,
    string Url,
    string Version,
    IReadOnlyList<(string Name, string Value)> Headers,
    byte[] Body,
    IReadOnlyList<(string Name, string Value)> Trailers,
    bool Chunked);
