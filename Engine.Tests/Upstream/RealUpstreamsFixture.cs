using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;

namespace Engine.Tests.Upstream;

/// <summary>
/// One instance each of the real upstream proxies, shared by a test class: tinyproxy and squid as
/// http nodes (tinyproxy behind credentials), microsocks (behind credentials) and dante as socks5
/// nodes. A proxy that cannot start leaves its reason for the tests to skip on.
/// </summary>
public sealed class RealUpstreamsFixture : IAsyncLifetime
{
    public const string User = "node-user";
    public const string Password = "node-pass";

    internal Tinyproxy? Tinyproxy { get; private set; }

    internal Squid? Squid { get; private set; }

    internal Microsocks? Microsocks { get; private set; }

    internal Dante? Dante { get; private set; }

    public Dictionary<string, string> Unavailable { get; } = [];

    public async Task InitializeAsync()
    {
        Tinyproxy = await TryStart("tinyproxy", () => Fixtures.Upstreams.Tinyproxy.StartAsync(User, Password));
        Squid = await TryStart("squid", () => Fixtures.Upstreams.Squid.StartAsync());
        Microsocks = await TryStart("microsocks", () => Fixtures.Upstreams.Microsocks.StartAsync(User, Password));
        Dante = await TryStart("dante", Fixtures.Upstreams.Dante.StartAsync);
    }

    private async Task<T?> TryStart<T>(string name, Func<Task<T>> start)
        where T : class
    {
        try
        {
            return await start();
        }
        catch (Exception e) when (Tools.IsUnavailable(e))
        {
            // The proxy is missing or did not start: its tests skip (fail under CI) with the reason.
            // Anything else is a fixture bug and fails the class.
            Unavailable[name] = e.Message;
            return null;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable? process in new IAsyncDisposable?[] { Tinyproxy, Squid, Microsocks, Dante })
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
    }
}
