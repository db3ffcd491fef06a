namespace Engine.Hosting;

/// <summary>
/// The configuration used when no <c>--config</c> is given: a working proxy on 127.0.0.1:8080
/// with direct egress and one demo package (spec/config.md). Loopback only, so a first run never
/// exposes an open proxy; private targets stay refused.
/// </summary>
internal static class EmbeddedDefault
{
    /// <summary>The demo package's key: public (it is in this file), so the ready line may print it.</summary>
    public const string DemoKey = "demo-key";

    public const string Json = """
        {
          "Engine": {
            "Name": "engine",
            "Listeners": [ { "Endpoint": "127.0.0.1:8080", "Protocol": "http" } ],
            "Packages": [
              {
                "Id": "demo", "Key": "demo-key", "Status": "active",
                "AllowedProtocols": [ "http", "https" ],
                "DefaultRules": "country-any"
              }
            ],
            "Nodes": [ { "Id": "local", "Type": "direct", "Network": "dc" } ]
          }
        }
        """;
}
