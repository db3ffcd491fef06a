using System.Net;
using Engine.Targets;
using Engine.Tests.Forwarding;

namespace Engine.Tests.Targets;

/// <summary>Issue 19.2 as units: this host's addresses, refreshed; the plain-HTTP port policy.</summary>
public sealed class TargetPolicyTests
{
    // Addresses are only classified here, never connected to.
    private static LocalAddresses Local(List<IPAddress> addresses) => new(() => addresses.ToArray(), new ManualTimeProvider());

    [Theory]
    [InlineData("8.8.4.4")]
    [InlineData("::ffff:8.8.4.4")]          // mapped spelling of the same interface address
    [InlineData("64:ff9b::808:404")]        // NAT64 of it
    [InlineData("2002:808:404::1")]         // 6to4 of it
    [InlineData("2606:4700::6810:84e5")]
    public void HostOwnPublicLookingAddress_IsRefusedAsLocal(string address)
    {
        var policy = new TargetPolicy(false, null, null, local: Local([IPAddress.Parse("8.8.4.4"), IPAddress.Parse("2606:4700::6810:84e5")]));

        Assert.Equal(PolicyVerdict.ForbiddenAddress, policy.CheckAddress(IPAddress.Parse(address), out AddressClass addressClass));
        Assert.Equal(AddressClass.Local, addressClass);
    }

    [Fact]
    public void LocalAddresses_FollowInterfaceChanges_AndAllowPrivateTargetsLetsThemThrough()
    {
        var addresses = new List<IPAddress> { IPAddress.Parse("8.8.4.4") };
        LocalAddresses local = Local(addresses);
        var policy = new TargetPolicy(false, null, null, local: local);
        Assert.Equal(PolicyVerdict.Allowed, policy.CheckAddress(IPAddress.Parse("1.1.1.1"), out _));

        addresses.Add(IPAddress.Parse("1.1.1.1"));   // an address came up
        local.Refresh();                              // what NetworkAddressChanged does
        Assert.Equal(PolicyVerdict.ForbiddenAddress, policy.CheckAddress(IPAddress.Parse("1.1.1.1"), out _));

        addresses.Clear();
        local.Refresh();
        Assert.Equal(PolicyVerdict.Allowed, policy.CheckAddress(IPAddress.Parse("8.8.4.4"), out _));

        var open = new TargetPolicy(true, null, null, local: Local([IPAddress.Parse("8.8.4.4")]));
        Assert.Equal(PolicyVerdict.Allowed, open.CheckAddress(IPAddress.Parse("8.8.4.4"), out _));
    }

    [Fact]
    public void TheMachine_KnowsItsOwnInterfaceAddresses()
    {
        foreach (IPAddress address in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                     .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address))
        {
            Assert.True(LocalAddresses.Machine.Contains(address), $"{address} is an interface address");
        }

        Assert.True(LocalAddresses.Machine.Count >= 2);   // at least 127.0.0.1 and ::1
    }

    [Theory]
    [InlineData(80, true)]
    [InlineData(443, true)]
    [InlineData(8080, true)]
    [InlineData(8443, true)]
    [InlineData(1024, true)]
    [InlineData(65535, true)]
    [InlineData(22, false)]
    [InlineData(25, false)]
    [InlineData(1023, false)]
    [InlineData(6379, false)]    // Redis
    [InlineData(11211, false)]   // memcached
    [InlineData(5432, false)]    // PostgreSQL
    [InlineData(6667, false)]    // IRC (Fetch bad port)
    [InlineData(10080, false)]   // Amanda (Fetch bad port)
    public void DefaultHttpPorts_AreSafePortsMinusServicePorts(int port, bool allowed)
    {
        var policy = new TargetPolicy(false, null, null, HttpPorts.Default);

        Assert.Equal(allowed ? PolicyVerdict.Allowed : PolicyVerdict.HttpPortNotAllowed, policy.CheckRequest("example.com", port, isConnect: false));
    }

    [Fact]
    public void HttpPorts_DoNotApplyToConnect_NorConnectPortsToHttp_AndEmptyAllowsAll()
    {
        var policy = new TargetPolicy(false, [443], null, [PortRange.One(80)]);
        Assert.Equal(PolicyVerdict.Allowed, policy.CheckRequest("example.com", 443, isConnect: true));
        Assert.Equal(PolicyVerdict.PortNotAllowed, policy.CheckRequest("example.com", 80, isConnect: true));
        Assert.Equal(PolicyVerdict.Allowed, policy.CheckRequest("example.com", 80, isConnect: false));
        Assert.Equal(PolicyVerdict.HttpPortNotAllowed, policy.CheckRequest("example.com", 443, isConnect: false));
        Assert.Equal(PolicyVerdict.Allowed, new TargetPolicy(false, null, null, []).CheckRequest("example.com", 25, isConnect: false));
    }

    [Fact]
    public void RefusedPorts_AndTheHostsOwnAddresses_AreNamedInTheDetail()
    {
        Span<byte> buffer = stackalloc byte[Engine.Errors.ProxyFailures.PolicyDetailLength];
        Assert.Equal("HTTP to port 6379 is not allowed (Security:AllowedHttpPorts)",
            System.Text.Encoding.ASCII.GetString(Engine.Errors.ProxyFailures.Of(PolicyVerdict.HttpPortNotAllowed, 6379, buffer).Detail));
        Assert.Equal("CONNECT to port 22 is not allowed (Security:AllowedConnectPorts)",
            System.Text.Encoding.ASCII.GetString(Engine.Errors.ProxyFailures.Of(PolicyVerdict.PortNotAllowed, 22, buffer).Detail));
    }

    [Theory]
    [InlineData("80", 80, 80)]
    [InlineData("1024-65535", 1024, 65535)]
    [InlineData(" 8000 - 8100 ", 8000, 8100)]
    public void PortRange_Parses(string text, int from, int to)
    {
        Assert.True(PortRange.TryParse(text, out PortRange range));
        Assert.Equal(new PortRange(from, to), range);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("100-50")]
    [InlineData("-5")]
    [InlineData("http")]
    [InlineData("")]
    public void PortRange_RefusesNonPorts(string text) => Assert.False(PortRange.TryParse(text, out _));
}
