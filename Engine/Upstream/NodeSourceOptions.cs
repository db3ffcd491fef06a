using Engine.Hosting;

namespace Engine.Upstream;

/// <summary>
/// <c>Engine.NodeSources[i]</c>: a file of nodes (a seller's proxy list) watched and reloaded on
/// change. Tags given here apply to every node of the file unless a JSON or CSV row sets its own.
/// </summary>
internal sealed record NodeSourceOptions
{
    public string Path { get; init; } = "";

    public NodeSourceFormat Format { get; init; } = NodeSourceFormat.Lines;

    /// <summary>Type of lines without a scheme (<c>http</c> or <c>socks5</c>).</summary>
    public NodeType Type { get; init; } = NodeType.Http;

    /// <summary>Prepended to every node id of the file, so two sources never collide.</summary>
    public string IdPrefix { get; init; } = "";

    public string? Country { get; init; }

    public string? Region { get; init; }

    public string? City { get; init; }

    public string? Isp { get; init; }

    public long? Asn { get; init; }

    public string? Network { get; init; }

    public int Weight { get; init; } = 1;
}

/// <summary><c>lines</c> (host:port[:user:pass], user:pass@host:port, scheme://…), <c>json</c> (an array of node objects) or <c>csv</c> (a header row names the columns).</summary>
internal enum NodeSourceFormat
{
    Lines,
    Json,
    Csv,
}
