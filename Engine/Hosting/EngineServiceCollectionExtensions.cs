using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Engine.Hosting.Systemd;

namespace Engine.Hosting;

/// <summary>Embeds the proxy engine in another .NET generic host.</summary>
public static class EngineServiceCollectionExtensions
{
    /// <summary>
    /// Adds the engine, configured from the <c>Engine</c> section of <paramref name="configuration"/>
    /// (the shape of docs/configuration.md). Throws <see cref="InvalidOperationException"/> listing
    /// every problem with its JSON path when the section is invalid.
    /// </summary>
    public static IServiceCollection AddProxyEngine(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        EngineConfigResult result = EngineConfigReader.Read(configuration);
        if (!result.IsValid)
        {
            throw new InvalidOperationException("Invalid engine configuration:" + Environment.NewLine + string.Join(Environment.NewLine, result.Problems));
        }

        return services.AddProxyEngine(result.Options);
    }

    internal static IServiceCollection AddProxyEngine(this IServiceCollection services, EngineOptions options)
    {
        services.AddSingleton(options);
        services.TryAddSingleton(new EngineConsole(Console.Out));
        services.AddSingleton<ProxyHostedService>();
        services.AddHostedService(sp => sp.GetRequiredService<ProxyHostedService>());
        // Outside systemd (NOTIFY_SOCKET unset) the notifier is disabled and the watchdog idles.
        services.TryAddSingleton<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier, Microsoft.Extensions.Hosting.Systemd.SystemdNotifier>();
        services.AddHostedService<SystemdWatchdog>();
        services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = options.Limits.ShutdownDrain + TimeSpan.FromSeconds(5));
        return services;
    }
}
