using System.Text.Json;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>One vector in the conformance JSON-lines format (../shared/conformance/README.md).</summary>
internal sealed class ConformanceVector
{
    public required string Id { get; init; }

    public required byte[] Raw { get; init; }

    public required JsonElement Expect { get; init; }

    public required HttpParserLimits Limits { get; init; }

    /// <summary>The chunked-body limits (<c>max_chunk_extension_bytes</c>, <c>max_trailer_bytes</c>) for the production scanner.</summary>
    public required ChunkLimits ChunkLimits { get; init; }

    public string? Rfc { get; init; }

    public bool ExpectOk => Expect.GetProperty("ok").GetBoolean();

    public override string ToString() => Id;

    public static Dictionary<string, ConformanceVector> Load(string path, bool requireHostByDefault)
    {
        var vectors = new Dictionary<string, ConformanceVector>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using JsonDocument document = JsonDocument.Parse(line);
            JsonElement root = document.RootElement;
            string id = root.GetProperty("id").GetString()!;
            var limits = HttpParserLimits.Default with { RequireHost = requireHostByDefault };
            ChunkLimits chunkLimits = ChunkLimits.Default;
            if (root.TryGetProperty("limits", out JsonElement overrides))
            {
                (limits, chunkLimits) = ApplyLimits(limits, chunkLimits, overrides);
            }

            vectors.Add(id, new ConformanceVector
            {
                Id = id,
                Raw = Convert.FromBase64String(root.GetProperty("raw_base64").GetString()!),
                Expect = root.GetProperty("expect").Clone(),
                Limits = limits,
                ChunkLimits = chunkLimits,
                Rfc = root.TryGetProperty("rfc", out JsonElement rfc) ? rfc.GetString() : null,
            });
        }

        return vectors;
    }

    private static (HttpParserLimits Head, ChunkLimits Chunks) ApplyLimits(HttpParserLimits limits, ChunkLimits chunks, JsonElement overrides)
    {
        foreach (JsonProperty property in overrides.EnumerateObject())
        {
            switch (property.Name)
            {
                case "max_chunk_extension_bytes":
                    chunks = chunks with { MaxExtensionBytes = property.Value.GetInt32() };
                    continue;
                case "max_trailer_bytes":
                    chunks = chunks with { MaxTrailerBytes = property.Value.GetInt32() };
                    continue;
            }

            limits = property.Name switch
            {
                "require_host" => limits with { RequireHost = property.Value.GetBoolean() },
                "max_request_line_bytes" => limits with { MaxRequestLineBytes = property.Value.GetInt32() },
                "max_request_head_bytes" => limits with { MaxRequestHeadBytes = property.Value.GetInt32() },
                "max_header_count" => limits with { MaxHeaderCount = property.Value.GetInt32() },
                _ => throw new InvalidDataException($"unknown limit '{property.Name}'"),
            };
        }

        return (limits, chunks);
    }
}
