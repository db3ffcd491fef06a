using System.Text.Json.Serialization;

namespace Engine.Admin;

/// <summary>Source-generated JSON for every admin response: no reflection, trimming-safe.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(NodeView[]))]
[JsonSerializable(typeof(NodeView))]
[JsonSerializable(typeof(PackageUsage))]
[JsonSerializable(typeof(SessionView))]
[JsonSerializable(typeof(HealthView))]
[JsonSerializable(typeof(StatusSummary))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
