using System.Net;

namespace Engine.Hosting;

/// <summary><c>Engine.Admin</c>: the management endpoint. Absent means no admin endpoint.</summary>
internal sealed class AdminOptions
{
    public required IPEndPoint Endpoint { get; init; }

    /// <summary>Bearer token for the admin API. Never logged.</summary>
    public required string Token { get; init; }
}
