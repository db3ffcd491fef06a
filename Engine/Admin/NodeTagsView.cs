namespace Engine.Admin;

/// <summary>The tags rules filter on; null where the node has none.</summary>
internal sealed record NodeTagsView(string? Country, string? Region, string? City, string? Isp, uint? Asn, string? Network);
