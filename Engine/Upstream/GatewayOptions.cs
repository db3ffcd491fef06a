namespace Engine.Upstream;

/// <summary>
/// <c>Nodes[i].Gateway</c>: the node is a provider's whole pool, reached through one endpoint; the
/// upstream credentials are rendered per request from the client's rules (docs/providers.md).
/// Either <see cref="Preset"/> or <see cref="UsernameTemplate"/> says how.
/// </summary>
internal sealed class GatewayOptions
{
    /// <summary>A built-in grammar (<see cref="GatewayPresets"/>): soax, brightdata, oxylabs, iproyal.</summary>
    public string? Preset { get; init; }

    /// <summary>Fills <c>{account}</c> in a preset: the provider's package, customer or user id.</summary>
    public string? Account { get; init; }

    public string? UsernameTemplate { get; init; }

    /// <summary>Providers that read targeting from the password (IPRoyal) template it; default <c>{password}</c>.</summary>
    public string? PasswordTemplate { get; init; }

    /// <summary>Fills <c>{password}</c>. Never logged.</summary>
    public string? Password { get; init; }

    /// <summary>Characters of the derived provider session id (<c>[a-z0-9]</c>); 0 = the preset's or 12.</summary>
    public int SessionIdLength { get; init; }

    /// <summary>Longest session the provider keeps sticky; a longer <c>sessionlength</c> makes the node a non-candidate. 0 = the preset's or 86400.</summary>
    public int MaxSessionSeconds { get; init; }

    /// <summary>Consecutive failures (across all its provider sessions) that eject the whole gateway; 0 = <see cref="GatewayPresets.DefaultFailuresToEject"/>.</summary>
    public int FailuresToEject { get; init; }
}
