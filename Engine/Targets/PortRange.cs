namespace Engine.Targets;

/// <summary>An inclusive range of TCP ports (one port: <c>From == To</c>).</summary>
internal readonly record struct PortRange(int From, int To)
{
    public static PortRange One(int port) => new(port, port);

    /// <summary>"8080" or "1024-65535".</summary>
    public static bool TryParse(string text, out PortRange range)
    {
        range = default;
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        ReadOnlySpan<char> from = dash < 0 ? text : text.AsSpan(0, dash);
        ReadOnlySpan<char> to = dash < 0 ? text : text.AsSpan(dash + 1);
        if (!int.TryParse(from.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int low)
            || !int.TryParse(to.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int high)
            || low is < 1 or > 65535 || high is < 1 or > 65535 || low > high)
        {
            return false;
        }

        range = new PortRange(low, high);
        return true;
    }

    public override string ToString() => From == To ? From.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{From}-{To}";
}
