namespace Engine.Upstream;

/// <summary>A node's region, city and ISP as ids of the pool's tag tables (-1 = untagged).</summary>
internal readonly record struct TagIds(int Region, int City, int Isp);
