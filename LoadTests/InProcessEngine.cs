using System.Text;
using Engine.Connection;
using Engine.Hosting;
using Engine.State;
using Microsoft.Extensions.Configuration;

namespace LoadTests;

/// <summary>The engine started in this process from a JSON config (memory state, no access log), for soak and CI runs.</summary>
internal sealed class InProcessEngine : IAsyncDisposable
{
    private readonly MemoryStateStore _state;

    private InProcessEngine(ProxyServer server, MemoryStateStore state)
    {
        Server = server;
        _state = state;
    }

    public ProxyServer Server { get; }

    /// <summary>Null (and the problems printed) when the config is invalid.</summary>
    public static InProcessEngine? Start(string json)
    {
        IConfigurationRoot configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        EngineConfigResult config = EngineConfigReader.Read(configuration);
        if (!config.IsValid)
        {
            Console.Error.WriteLine(string.Join(Environment.NewLine, config.Problems));
            return null;
        }

        var state = new MemoryStateStore(TimeProvider.System);
        var server = new ProxyServer(ProxyServicesFactory.Create(config.Options, accessLog: null, state), 100_000);
        server.Start(ProxyServicesFactory.Listeners(config.Options));
        return new InProcessEngine(server, state);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await _state.DisposeAsync();
    }
}
