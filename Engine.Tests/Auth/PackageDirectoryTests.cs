using System.Net;
using System.Text;
using Engine.Auth;

namespace Engine.Tests.Auth;

public class PackageDirectoryTests
{
    private static readonly IPAddress Client = IPAddress.Parse("203.0.113.7");

    private static readonly PackageDirectory Directory = new([
        new Package("demo", "demo-key"),
        new Package("paused", "paused-key", PackageStatus.Paused),
        new Package("suspended", "susp-key", PackageStatus.Suspended),
        new Package("tunnels-only", "tun-key", allowedProtocols: ProxyProtocols.Https),
        new Package("office", "office-key", ipAllowlist: [IPNetwork.Parse("198.51.100.0/24")]),
        new Package("ipauth", "ipauth-key", ipAuth: [IPNetwork.Parse("203.0.113.0/24")], defaultRules: "country-any"),
    ]);

    private static string Header(string userPass) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(userPass));

    private static AuthOutcome Authenticate(string? header, IPAddress client, ProxyProtocols protocol, out Package? package, out string rules)
    {
        Span<byte> scratch = stackalloc byte[BasicCredentials.MaxDecodedLength];
        AuthOutcome outcome = Directory.Authenticate(
            header is null ? default : Encoding.ASCII.GetBytes(header), client, protocol, scratch, out package, out int rulesLength);
        rules = rulesLength > 0 ? Encoding.UTF8.GetString(scratch[..rulesLength]) : string.Empty;
        return outcome;
    }

    [Fact]
    public void Authenticate_ValidKey_ReturnsPackageAndRules()
    {
        Assert.Equal(AuthOutcome.Authenticated, Authenticate(Header("country-us-session-a1:demo-key"), Client, ProxyProtocols.Http, out Package? p, out string rules));
        Assert.Equal("demo", p!.Id);
        Assert.Equal("country-us-session-a1", rules);
    }

    [Fact]
    public void Authenticate_PasswordWithColon_KeepsEverythingAfterTheFirstColon()
    {
        var dir = new PackageDirectory([new Package("c", "a:b:c")]);
        Span<byte> scratch = stackalloc byte[BasicCredentials.MaxDecodedLength];
        AuthOutcome outcome = dir.Authenticate(Encoding.ASCII.GetBytes(Header("rules:a:b:c")), Client, ProxyProtocols.Http, scratch, out Package? p, out _);
        Assert.Equal(AuthOutcome.Authenticated, outcome);
        Assert.Equal("c", p!.Id);
    }

    [Theory]
    [InlineData("Bearer abc")]
    [InlineData("Basic")]
    [InlineData("Basic !!!notbase64")]
    [InlineData("Basic dXNlcg==")]          // "user": no colon
    [InlineData("Basic dXNlcjo=")]          // "user:": empty key
    public void Authenticate_MalformedCredentials_AreMalformed(string header) =>
        Assert.Equal(AuthOutcome.Malformed, Authenticate(header, Client, ProxyProtocols.Http, out _, out _));

    [Fact]
    public void Authenticate_SchemeIsCaseInsensitive() =>
        Assert.Equal(AuthOutcome.Authenticated, Authenticate("bAsIc " + Header("x:demo-key")[6..], Client, ProxyProtocols.Http, out _, out _));

    [Theory]
    [InlineData("country-us:demo-ke")]
    [InlineData("country-us:demo-key2")]
    [InlineData("country-us:DEMO-KEY")]
    public void Authenticate_WrongKey_IsUnknownKey(string userPass) =>
        Assert.Equal(AuthOutcome.UnknownKey, Authenticate(Header(userPass), Client, ProxyProtocols.Http, out _, out _));

    [Theory]
    [InlineData("x:paused-key", nameof(AuthOutcome.Paused))]
    [InlineData("x:susp-key", nameof(AuthOutcome.Suspended))]
    [InlineData("x:office-key", nameof(AuthOutcome.IpNotAllowed))]
    public void Authenticate_PackagePolicy_IsEnforced(string userPass, string expected) =>
        Assert.Equal(Enum.Parse<AuthOutcome>(expected), Authenticate(Header(userPass), Client, ProxyProtocols.Http, out _, out _));

    [Fact]
    public void Authenticate_ProtocolNotAllowed_IsRefusedOnlyForThatProtocol()
    {
        Assert.Equal(AuthOutcome.ProtocolNotAllowed, Authenticate(Header("x:tun-key"), Client, ProxyProtocols.Http, out _, out _));
        Assert.Equal(AuthOutcome.Authenticated, Authenticate(Header("x:tun-key"), Client, ProxyProtocols.Https, out _, out _));
    }

    [Fact]
    public void Authenticate_AllowlistedClient_IncludingIpv4MappedForm_IsAllowed() =>
        Assert.Equal(AuthOutcome.Authenticated, Authenticate(Header("x:office-key"), IPAddress.Parse("::ffff:198.51.100.9"), ProxyProtocols.Http, out _, out _));

    [Fact]
    public void Authenticate_NoCredentials_UsesIpAuthPackageOrIsMissing()
    {
        Assert.Equal(AuthOutcome.Authenticated, Authenticate(null, Client, ProxyProtocols.Http, out Package? p, out _));
        Assert.Equal("ipauth", p!.Id);
        Assert.Equal(AuthOutcome.Missing, Authenticate(null, IPAddress.Parse("192.0.2.1"), ProxyProtocols.Http, out _, out _));
    }

    [Fact]
    public void Constructor_DuplicateKeys_AreRejected() =>
        Assert.Throws<ArgumentException>(() => new PackageDirectory([new Package("a", "k"), new Package("b", "k")]));

    [Fact]
    public void Authenticate_SteadyState_DoesNotAllocate()
    {
        byte[] header = Encoding.ASCII.GetBytes(Header("country-us-session-a1:demo-key"));
        Span<byte> scratch = stackalloc byte[BasicCredentials.MaxDecodedLength];
        for (int i = 0; i < 100; i++)
        {
            Directory.Authenticate(header, Client, ProxyProtocols.Http, scratch, out _, out _);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Directory.Authenticate(header, Client, ProxyProtocols.Http, scratch, out _, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void FindById_KnownAndUnknown_ReturnsPackageOrNull()
    {
        Assert.Equal("paused", Directory.FindById("paused")?.Id);
        Assert.Null(Directory.FindById("nope"));
        Assert.Null(Directory.FindById("DEMO"));   // ids are case-sensitive
    }
}
