using System.Text;
using Engine.Hosting;
using Microsoft.Extensions.Configuration;

namespace Engine.Tests.Hosting;

internal static class ConfigFixtures
{
    /// <summary>
    /// The file shape from spec/config.md, verbatim except that the https listener's
    /// <c>cert.pfx</c> is a real certificate file (the reader loads it to validate it).
    /// </summary>
    public static string SpecExample => s_specExample.Value;

    private static readonly Lazy<string> s_specExample = new(() =>
    {
        string directory = Directory.CreateTempSubdirectory("engine-config-").FullName;
        using var certificate = Engine.Tests.Fixtures.TestCertificates.Create();
        string pfx = Engine.Tests.Fixtures.TestCertificates.WritePfx(certificate, directory, null);
        return SpecExampleVerbatim.Replace("\"cert.pfx\"", System.Text.Json.JsonSerializer.Serialize(pfx), StringComparison.Ordinal);
    });

    /// <summary>The file shape from spec/config.md, verbatim.</summary>
    public const string SpecExampleVerbatim = """
        {
          "Engine": {
            "Name": "engine",
            "Listeners": [
              { "Endpoint": "127.0.0.1:8080", "Protocol": "http" },
              { "Endpoint": "127.0.0.1:1080", "Protocol": "socks5" },
              { "Endpoint": "127.0.0.1:8443", "Protocol": "https", "Certificate": "cert.pfx" }
            ],
            "Admin": { "Endpoint": "127.0.0.1:8081", "Token": "change-me" },
            "Limits": {
              "MaxConnections": 100000,
              "RequestHeadTimeout": "00:00:10",
              "IdleTimeout": "00:02:00",
              "ConnectTimeout": "00:00:10",
              "ResponseHeadTimeout": "00:00:30",
              "MaxRequestHeadBytes": 32768,
              "ShutdownDrain": "00:00:20"
            },
            "Errors": { "TypeBase": "https://proxy.invalid/docs/errors.md#", "Realm": "proxy" },
            "Security": {
              "AllowPrivateTargets": false,
              "AllowedConnectPorts": [ 443, 80, 8443 ],
              "BlockedDomains": [ "example-bank.com" ]
            },
            "Packages": [
              {
                "Id": "demo", "Key": "demo-key", "Status": "active",
                "AllowedProtocols": [ "http", "https", "socks5" ],
                "AllowedNetworks": [ "res", "mob", "dc" ],
                "AllowedRules": null,
                "RequestsPerSecond": 200, "MaxConcurrent": 100,
                "TrafficLimitBytes": null, "TrafficPeriod": "none",
                "IpAllowlist": [], "IpAuth": [], "DefaultRules": "country-any",
                "CircuitBreaker": { "FailureRatio": 0.3, "Window": "00:05:00", "MinRequests": 20, "Cooldown": "00:01:00" }
              }
            ],
            "Credits": { "PoolBytes": null },
            "Nodes": [
              { "Id": "local", "Type": "direct", "Country": "us", "City": "new_york", "Isp": "example_isp", "Asn": 64500, "Network": "dc" },
              { "Id": "up1", "Type": "http", "Address": "127.0.0.1:3128", "Username": null, "Password": null, "Country": "de", "Network": "res" },
              { "Id": "s1", "Type": "socks5", "Address": "127.0.0.1:1081", "Country": "gb", "Network": "mob" }
            ],
            "State": { "Store": "memory", "Redis": "127.0.0.1:6379" }
          }
        }
        """;

    public static IConfiguration Build(string json, params (string Key, string? Value)[] overrides) =>
        new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)))
            .AddInMemoryCollection(overrides.Select(o => new KeyValuePair<string, string?>(o.Key, o.Value)))
            .Build();

    public static EngineConfigResult Read(string json, params (string Key, string? Value)[] overrides) =>
        EngineConfigReader.Read(Build(json, overrides));

    public static string TempFile(string contents)
    {
        string path = Path.Combine(Path.GetTempPath(), $"engine-test-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, contents);
        return path;
    }
}
