using System.Net;
using Engine.Auth;
using Engine.Hosting;
using Microsoft.Extensions.Configuration;
using Engine.Upstream;

namespace Engine.Tests.Hosting;

public class EngineConfigReaderTests
{
    private static string[] Paths(EngineConfigResult result) => result.Problems.Select(p => p.Path).ToArray();

    [Fact]
    public void Read_SpecExample_IsValid()
    {
        EngineConfigResult result = ConfigFixtures.Read(ConfigFixtures.SpecExample);

        Assert.Empty(result.Problems);
        EngineOptions options = result.Options;
        Assert.Equal(3, options.Listeners.Count);
        Assert.Equal(ListenerProtocol.Https, options.Listeners[2].Protocol);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8081), options.Admin!.Endpoint);
        Assert.Equal(TimeSpan.FromSeconds(20), options.Limits.ShutdownDrain);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Limits.MaxLoopLag);   // on by default
        Assert.Equal([443, 80, 8443], options.Security.AllowedConnectPorts);
        PackageOptions package = Assert.Single(options.Packages);
        Assert.Equal(ProxyProtocols.All, package.AllowedProtocols);
        Assert.Null(package.AllowedRules);
        Assert.Null(package.TrafficLimitBytes);
        Assert.Empty(package.IpAllowlist);
        Assert.Equal(0.3, package.CircuitBreaker!.FailureRatio);
        Assert.Null(options.Credits.PoolBytes);
        Assert.Equal(64500, options.Nodes[0].Asn);
        Assert.Null(options.Nodes[1].Username);
        Assert.Equal(NodeType.Socks5, options.Nodes[2].Type);
    }

    [Fact]
    public void Read_Errors_ReachTheErrorWriter()
    {
        EngineConfigResult result = ConfigFixtures.Read(ConfigFixtures.SpecExample,
            ("Engine:Errors:TypeBase", "https://docs.example.com/proxy/errors/"), ("Engine:Errors:Realm", "Example Proxy"));

        Assert.Empty(result.Problems);
        var writer = new Engine.Errors.ErrorWriter(new Engine.Errors.ErrorWriterOptions
        {
            EngineName = result.Options.Name, TypeBase = result.Options.Errors.TypeBase, Realm = result.Options.Errors.Realm,
        });
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        writer.Write(output, new Engine.Errors.ErrorResponse(Engine.Errors.ErrorCode.ErrAuthRequired));
        string text = System.Text.Encoding.ASCII.GetString(output.WrittenSpan);
        Assert.Contains("Proxy-Authenticate: Basic realm=\"Example Proxy\"\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\"type\":\"https://docs.example.com/proxy/errors/err_auth_required\"", text, StringComparison.Ordinal);
    }

    // --check-config applies the writer's own rules: whatever it accepts, the writer accepts (and the daemon starts).
    [Theory]
    [InlineData("engine")]
    [InlineData("gw-eu.1")]
    [InlineData("1engine")]
    [InlineData("-engine")]
    [InlineData("my engine")]
    [InlineData("x")]
    public void Read_AnyAcceptedName_BuildsAnErrorWriter(string name)
    {
        EngineConfigResult result = ConfigFixtures.Read(ConfigFixtures.SpecExample, ("Engine:Name", name));
        bool accepted = result.Problems.Count == 0;

        Exception? thrown = Record.Exception(() => new Engine.Errors.ErrorWriter(new Engine.Errors.ErrorWriterOptions { EngineName = name }));

        Assert.Equal(accepted, thrown is null);
    }

    [Fact]
    public void Read_EmbeddedDefault_IsValidWithDemoPackage()
    {
        EngineConfigResult result = EngineConfigReader.Read(EngineApp.BuildConfiguration(null, []));

        Assert.Empty(result.Problems);
        Assert.Equal("127.0.0.1:8080", result.Options.Listeners.Single().Endpoint.ToString());
        PackageOptions demo = Assert.Single(result.Options.Packages);
        Assert.Equal(("demo", "demo-key", "country-any"), (demo.Id, demo.Key, demo.DefaultRules));
        Assert.Equal(NodeType.Direct, Assert.Single(result.Options.Nodes).Type);
        Assert.Equal(100_000, result.Options.Limits.MaxConnections);
    }

    [Theory]
    [InlineData("Engine:Name", "my engine", "Engine.Name")]
    // The error writer's rule (an sf-token starts with a letter): this passed the check and then stopped the daemon.
    [InlineData("Engine:Name", "1engine", "Engine.Name")]
    [InlineData("Engine:Errors:TypeBase", "not a uri", "Engine.Errors.TypeBase")]
    [InlineData("Engine:Errors:TypeBase", "docs/errors.md#", "Engine.Errors.TypeBase")]
    [InlineData("Engine:Errors:TypeBase", "https://example.com/\"x", "Engine.Errors.TypeBase")]
    [InlineData("Engine:Errors:Realm", "my \"realm\"", "Engine.Errors.Realm")]
    [InlineData("Engine:Errors:Realm", "réalm", "Engine.Errors.Realm")]
    [InlineData("Engine:Errors:Base", "https://example.com/", "Engine.Errors.Base")]
    [InlineData("Engine:Listeners:1:Endpoint", "127.0.0.1:99999", "Engine.Listeners[1].Endpoint")]
    [InlineData("Engine:Listeners:1:Endpoint", "localhost:80", "Engine.Listeners[1].Endpoint")]
    [InlineData("Engine:Listeners:1:Endpoint", "127.0.0.1", "Engine.Listeners[1].Endpoint")]
    [InlineData("Engine:Listeners:1:Endpoint", "127.0.0.1:8080", "Engine.Listeners[1].Endpoint")]
    [InlineData("Engine:Listeners:0:Protocol", "HTTP", "Engine.Listeners[0].Protocol")]
    [InlineData("Engine:Listeners:0:Certificate", "x.pfx", "Engine.Listeners[0].Certificate")]
    [InlineData("Engine:Listeners:2:Certificate", "", "Engine.Listeners[2].Certificate")]
    [InlineData("Engine:Listeners:0:Backlog", "0", "Engine.Listeners[0].Backlog")]
    [InlineData("Engine:Admin:Token", "", "Engine.Admin.Token")]
    [InlineData("Engine:Admin:Endpoint", "127.0.0.1:8080", "Engine.Admin.Endpoint")]
    [InlineData("Engine:Limits:MaxConnections", "lots", "Engine.Limits.MaxConnections")]
    [InlineData("Engine:Limits:MaxConnections", "0", "Engine.Limits.MaxConnections")]
    [InlineData("Engine:Limits:MaxConnections", "99999999999", "Engine.Limits.MaxConnections")]
    [InlineData("Engine:Limits:RequestHeadTimeout", "10", "Engine.Limits.RequestHeadTimeout")]
    [InlineData("Engine:Limits:IdleTimeout", "00:00:00", "Engine.Limits.IdleTimeout")]
    [InlineData("Engine:Limits:ConnectTimeout", "soon", "Engine.Limits.ConnectTimeout")]
    [InlineData("Engine:Limits:ResponseHeadTimeout", "-00:00:01", "Engine.Limits.ResponseHeadTimeout")]
    [InlineData("Engine:Limits:ShutdownDrain", "02:00:00", "Engine.Limits.ShutdownDrain")]
    [InlineData("Engine:Limits:MaxLoopLag", "00:05:00", "Engine.Limits.MaxLoopLag")]
    [InlineData("Engine:Limits:MaxLoopLag", "-00:00:01", "Engine.Limits.MaxLoopLag")]
    [InlineData("Engine:Limits:MaxRequestHeadBytes", "100", "Engine.Limits.MaxRequestHeadBytes")]
    [InlineData("Engine:Limits:MaxRequestLineBytes", "65536", "Engine.Limits.MaxRequestLineBytes")]
    [InlineData("Engine:Limits:MaxHeaderCount", "0", "Engine.Limits.MaxHeaderCount")]
    [InlineData("Engine:Limits:MaxConection", "5", "Engine.Limits.MaxConection")]
    [InlineData("Engine:Security:AllowPrivateTargets", "yes", "Engine.Security.AllowPrivateTargets")]
    [InlineData("Engine:Security:AllowedConnectPorts:1", "0", "Engine.Security.AllowedConnectPorts[1]")]
    [InlineData("Engine:Security:AllowedConnectPorts:2", "70000", "Engine.Security.AllowedConnectPorts[2]")]
    [InlineData("Engine:Security:BlockedDomains:0", "https://example-bank.com/", "Engine.Security.BlockedDomains[0]")]
    [InlineData("Engine:Packages:0:Id", "", "Engine.Packages[0].Id")]
    [InlineData("Engine:Packages:0:Key", "", "Engine.Packages[0].Key")]
    [InlineData("Engine:Packages:0:Key", "a key", "Engine.Packages[0].Key")]
    [InlineData("Engine:Packages:0:Status", "Active", "Engine.Packages[0].Status")]
    [InlineData("Engine:Packages:0:AllowedProtocols:1", "ftp", "Engine.Packages[0].AllowedProtocols[1]")]
    [InlineData("Engine:Packages:0:AllowedNetworks:0", "resi", "Engine.Packages[0].AllowedNetworks[0]")]
    [InlineData("Engine:Packages:0:AllowedRules:0", "colour", "Engine.Packages[0].AllowedRules[0]")]
    [InlineData("Engine:Packages:0:RequestsPerSecond", "0", "Engine.Packages[0].RequestsPerSecond")]
    [InlineData("Engine:Packages:0:MaxConcurrent", "1.5", "Engine.Packages[0].MaxConcurrent")]
    [InlineData("Engine:Packages:0:TrafficLimitBytes", "-1", "Engine.Packages[0].TrafficLimitBytes")]
    [InlineData("Engine:Packages:0:IpAllowlist:0", "10.0.0.0/33", "Engine.Packages[0].IpAllowlist[0]")]
    [InlineData("Engine:Packages:0:IpAuth:0", "not-an-ip", "Engine.Packages[0].IpAuth[0]")]
    [InlineData("Engine:Packages:0:DefaultRules", "country-US", "Engine.Packages[0].DefaultRules")]
    [InlineData("Engine:Packages:0:CircuitBreaker:FailureRatio", "2", "Engine.Packages[0].CircuitBreaker.FailureRatio")]
    [InlineData("Engine:Packages:0:CircuitBreaker:Window", "5m", "Engine.Packages[0].CircuitBreaker.Window")]
    [InlineData("Engine:Packages:0:CircuitBreaker:MinRequests", "0", "Engine.Packages[0].CircuitBreaker.MinRequests")]
    [InlineData("Engine:Packages:0:CircuitBreaker:Cooldown", "00:00:00", "Engine.Packages[0].CircuitBreaker.Cooldown")]
    [InlineData("Engine:Credits:PoolBytes", "much", "Engine.Credits.PoolBytes")]
    [InlineData("Engine:Nodes:0:Type", "tor", "Engine.Nodes[0].Type")]
    [InlineData("Engine:Nodes:0:Address", "127.0.0.1:3128", "Engine.Nodes[0].Address")]
    [InlineData("Engine:Nodes:1:Address", "", "Engine.Nodes[1].Address")]
    [InlineData("Engine:Nodes:1:Address", "proxy.example:0", "Engine.Nodes[1].Address")]
    [InlineData("Engine:Nodes:2:Address", "127.0.0.1", "Engine.Nodes[2].Address")]
    [InlineData("Engine:Nodes:1:Username", "user", "Engine.Nodes[1].Password")]
    [InlineData("Engine:Nodes:0:LocalAddress", "eth0", "Engine.Nodes[0].LocalAddress")]
    [InlineData("Engine:Nodes:0:Country", "US", "Engine.Nodes[0].Country")]
    [InlineData("Engine:Nodes:0:Country", "usa", "Engine.Nodes[0].Country")]
    [InlineData("Engine:Nodes:0:Country", "uk", "Engine.Nodes[0].Country")]
    [InlineData("Engine:Nodes:0:Country", "xx", "Engine.Nodes[0].Country")]
    [InlineData("Engine:Packages:0:DefaultRules", "country-xx", "Engine.Packages[0].DefaultRules")]
    [InlineData("Engine:Packages:0:DefaultRules", "country-us-bind-node", "Engine.Packages[0].DefaultRules")]
    [InlineData("Engine:Listeners:2:Certificate", "/nonexistent/engine.pfx", "Engine.Listeners[2].Certificate")]
    [InlineData("Engine:Listeners:2:CertificatePassword", "wrong", "Engine.Listeners[2].Certificate")]
    [InlineData("Engine:Listeners:1:CertificateKey", "key.pem", "Engine.Listeners[1].CertificateKey")]
    [InlineData("Engine:Routing:MaxAttempts", "0", "Engine.Routing.MaxAttempts")]
    [InlineData("Engine:Routing:MaxAttempts", "11", "Engine.Routing.MaxAttempts")]
    [InlineData("Engine:Routing:FailuresToEject", "0", "Engine.Routing.FailuresToEject")]
    [InlineData("Engine:Routing:EjectBase", "soon", "Engine.Routing.EjectBase")]
    [InlineData("Engine:Routing:EjectMax", "00:00:01", "Engine.Routing.EjectMax")]
    [InlineData("Engine:Routing:DomainBanTtl", "00:00:00", "Engine.Routing.DomainBanTtl")]
    [InlineData("Engine:Routing:ExposeNode", "maybe", "Engine.Routing.ExposeNode")]
    [InlineData("Engine:Routing:Retries", "3", "Engine.Routing.Retries")]
    [InlineData("Engine:Nodes:0:City", "new-york", "Engine.Nodes[0].City")]
    [InlineData("Engine:Nodes:0:Asn", "0", "Engine.Nodes[0].Asn")]
    [InlineData("Engine:Nodes:0:Network", "residential", "Engine.Nodes[0].Network")]
    [InlineData("Engine:Nodes:0:Weight", "-1", "Engine.Nodes[0].Weight")]
    [InlineData("Engine:Nodes:0:Colour", "red", "Engine.Nodes[0].Colour")]
    [InlineData("Engine:State:Store", "postgres", "Engine.State.Store")]
    [InlineData("Engine:State:Redis", "redis://x", "Engine.State.Redis")]
    [InlineData("Engine:Listners:0:Endpoint", "127.0.0.1:1", "Engine.Listners")]
    [InlineData("Engine:AccessLog:Enabled", "yes", "Engine.AccessLog.Enabled")]
    [InlineData("Engine:AccessLog:Level", "debug", "Engine.AccessLog.Level")]
    [InlineData("Engine:AccessLog:Format", "JSON", "Engine.AccessLog.Format")]
    [InlineData("Engine:AccessLog:SuccessSampleRate", "1.5", "Engine.AccessLog.SuccessSampleRate")]
    [InlineData("Engine:AccessLog:SuccessSampleRate", "half", "Engine.AccessLog.SuccessSampleRate")]
    [InlineData("Engine:AccessLog:MaxBytes", "1000000", "Engine.AccessLog.MaxBytes")]
    [InlineData("Engine:AccessLog:MaxFiles", "5", "Engine.AccessLog.MaxFiles")]
    [InlineData("Engine:AccessLog:Path", "/nonexistent-dir/access.log", "Engine.AccessLog.Path")]
    [InlineData("Engine:AccessLog:Path", "/tmp", "Engine.AccessLog.Path")]
    [InlineData("Engine:AccessLog:Rotate", "daily", "Engine.AccessLog.Rotate")]
    [InlineData("Engine:WarmUp", "maybe", "Engine.WarmUp")]
    public void Read_OneBadValue_ReportsExactlyItsPath(string key, string value, string expectedPath)
    {
        EngineConfigResult result = ConfigFixtures.Read(ConfigFixtures.SpecExample, (key, value));

        ConfigProblem problem = Assert.Single(result.Problems);
        Assert.Equal(expectedPath, problem.Path);
        Assert.False(string.IsNullOrWhiteSpace(problem.Message));
        Assert.False(result.IsValid);
    }

    [Fact]
    public void Read_Routing_DefaultsAndOverrides()
    {
        EngineConfigResult defaults = ConfigFixtures.Read(ConfigFixtures.SpecExample);
        Assert.True(defaults.IsValid);
        Assert.Equal(3, defaults.Options.Routing.MaxAttempts);
        Assert.True(defaults.Options.Routing.ExposeNode);

        EngineConfigResult set = ConfigFixtures.Read(ConfigFixtures.SpecExample,
            ("Engine:Routing:MaxAttempts", "5"), ("Engine:Routing:EjectBase", "00:00:30"), ("Engine:Routing:ExposeNode", "false"));
        Assert.True(set.IsValid);
        Assert.Equal(5, set.Options.Routing.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(30), set.Options.Routing.EjectBase);
        Assert.False(set.Options.Routing.ExposeNode);
    }

    [Fact]
    public void Read_WarmUp_OnByDefault_OffWhenFalse()
    {
        Assert.True(ConfigFixtures.Read(ConfigFixtures.SpecExample).Options.WarmUp);

        EngineConfigResult off = ConfigFixtures.Read(ConfigFixtures.SpecExample, ("Engine:WarmUp", "false"));
        Assert.True(off.IsValid);
        Assert.False(off.Options.WarmUp);
    }

    [Fact]
    public void Read_DuplicateIdsAndKeys_ReportEachSecondOccurrence()
    {
        EngineConfigResult result = ConfigFixtures.Read(
            ConfigFixtures.SpecExample,
            ("Engine:Packages:1:Id", "demo"),
            ("Engine:Packages:1:Key", "demo-key"),
            ("Engine:Packages:2:Id", "other"),
            ("Engine:Packages:2:Key", "demo-key"),
            ("Engine:Nodes:3:Id", "up1"),
            ("Engine:Nodes:3:Type", "direct"));

        Assert.Equal(
            ["Engine.Packages[1].Id", "Engine.Packages[1].Key", "Engine.Packages[2].Key", "Engine.Nodes[3].Id"],
            Paths(result));
        Assert.DoesNotContain(result.Problems, p => p.Message.Contains("demo-key", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_ManyProblems_ReportsEveryOneWithoutThrowing()
    {
        const string json = """
            {
              "Engine": {
                "Listners": [],
                "Listeners": [ { "Endpoint": "127.0.0.1:99999", "Protocol": "htp" } ],
                "Limits": { "MaxConnections": "lots", "IdleTimeout": { "Minutes": 2 } },
                "Packages": [ { "Id": "a", "Key": "" }, { "Id": "a", "Key": "k", "Status": 3 } ],
                "Nodes": [ { "Id": "n", "Type": "http", "Country": "US" }, { "Id": "m" } ],
                "State": { "Store": "redis" }
              }
            }
            """;

        EngineConfigResult result = ConfigFixtures.Read(json);

        Assert.Equal(
            new[]
            {
                "Engine.Listners",
                "Engine.Limits.MaxConnections",
                "Engine.Limits.IdleTimeout",
                "Engine.Listeners[0].Endpoint",
                "Engine.Listeners[0].Protocol",
                "Engine.Packages[0].Key",
                "Engine.Packages[1].Status",
                "Engine.Packages[1].Id",
                "Engine.Nodes[0].Address",
                "Engine.Nodes[0].Country",
                "Engine.Nodes[1].Type",
                "Engine.State.Redis",
            }.Order(),
            Paths(result).Order());
    }

    [Fact]
    public void Read_NoEngineSection_ReportsIt()
    {
        EngineConfigResult result = ConfigFixtures.Read("""{ "engnie": {} }""");

        Assert.Equal("Engine", Assert.Single(result.Problems).Path);
    }

    [Fact]
    public void Read_NoListenersNoNodes_ReportsBoth()
    {
        EngineConfigResult result = ConfigFixtures.Read("""{ "Engine": { "Name": "x" } }""");

        Assert.Equal(["Engine.Listeners", "Engine.Nodes"], Paths(result));
    }

    [Fact]
    public void Read_IpAuthWithoutDefaultRules_Reported()
    {
        EngineConfigResult result = ConfigFixtures.Read(
            ConfigFixtures.SpecExample, ("Engine:Packages:0:IpAuth:0", "203.0.113.0/24"), ("Engine:Packages:0:DefaultRules", ""));

        Assert.Equal("Engine.Packages[0].DefaultRules", Assert.Single(result.Problems).Path);
    }

    [Fact]
    public void Read_Ipv6AndSingleAddresses_Parse()
    {
        EngineConfigResult result = ConfigFixtures.Read(
            ConfigFixtures.SpecExample,
            ("Engine:Listeners:0:Endpoint", "[::1]:0"),
            ("Engine:Packages:0:IpAllowlist:0", "2001:db8::/32"),
            ("Engine:Packages:0:IpAllowlist:1", "192.0.2.7"),
            ("Engine:Nodes:1:Address", "[2001:db8::1]:3128"));

        Assert.Empty(result.Problems);
        Assert.Equal(IPAddress.IPv6Loopback, result.Options.Listeners[0].Endpoint.Address);
        Assert.True(result.Options.Packages[0].IpAllowlist[1].Contains(IPAddress.Parse("192.0.2.7")));
        Assert.False(result.Options.Packages[0].IpAllowlist[1].Contains(IPAddress.Parse("192.0.2.8")));
    }

    [Fact]
    public void Read_NoAccessLogSection_JsonToStdoutKeepingEverything()
    {
        AccessLogOptions log = ConfigFixtures.Read(ConfigFixtures.SpecExample).Options.AccessLog;

        Assert.True(log.Enabled);
        Assert.False(log.ErrorsOnly);
        Assert.Equal(Engine.Diagnostics.AccessLogFormat.Json, log.Format);
        Assert.Null(log.Path);
        Assert.Equal(1.0, log.SuccessSampleRate);
    }

    [Fact]
    public void Read_AccessLogFileWithRotationAndSampling_IsValid()
    {
        string file = Path.Combine(Path.GetTempPath(), "engine-access.log");
        EngineConfigResult result = ConfigFixtures.Read(ConfigFixtures.SpecExample,
            ("Engine:AccessLog:Format", "logfmt"), ("Engine:AccessLog:Level", "errors"), ("Engine:AccessLog:Path", file),
            ("Engine:AccessLog:MaxBytes", "1048576"), ("Engine:AccessLog:MaxFiles", "3"), ("Engine:AccessLog:SuccessSampleRate", "0.05"));

        Assert.Empty(result.Problems);
        AccessLogOptions log = result.Options.AccessLog;
        Assert.Equal((Engine.Diagnostics.AccessLogFormat.Logfmt, true, file, 1048576L, 3, 0.05), (log.Format, log.ErrorsOnly, log.Path, log.MaxBytes, log.MaxFiles, log.SuccessSampleRate));
    }

    [Theory]
    [InlineData("1000", "Engine.AccessLog.MaxBytes")]
    [InlineData("0", "Engine.AccessLog.MaxFiles")]
    public void Read_AccessLogRotationOutOfRange_ReportsItsPath(string value, string expectedPath)
    {
        string key = expectedPath.Replace('.', ':');
        EngineConfigResult result = ConfigFixtures.Read(ConfigFixtures.SpecExample,
            ("Engine:AccessLog:Path", Path.Combine(Path.GetTempPath(), "engine-access.log")), (key, value));

        Assert.Equal([expectedPath], Paths(result));
    }

    [Fact]
    public void Read_KeysAreCaseInsensitive_AsInDotNetConfiguration()
    {
        EngineConfigResult result = ConfigFixtures.Read(ConfigFixtures.SpecExample, ("ENGINE:LIMITS:MAXCONNECTIONS", "5000"));

        Assert.Empty(result.Problems);
        Assert.Equal(5000, result.Options.Limits.MaxConnections);
    }

    [Theory]
    [InlineData("Engine", "Engine")]
    [InlineData("Engine:Packages:0:Key", "Engine.Packages[0].Key")]
    [InlineData("Engine:Nodes:12:Asn", "Engine.Nodes[12].Asn")]
    [InlineData("Engine:Security:AllowedConnectPorts:0", "Engine.Security.AllowedConnectPorts[0]")]
    public void JsonPath_ConfigPath_Converted(string configPath, string expected) =>
        Assert.Equal(expected, ConfigSectionReader.JsonPath(configPath));
}
