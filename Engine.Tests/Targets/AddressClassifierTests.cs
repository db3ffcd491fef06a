using System.Net;
using Engine.Targets;

namespace Engine.Tests.Targets;

public class AddressClassifierTests
{
    [Theory]
    [InlineData("0.0.0.0", nameof(AddressClass.Unspecified))]
    [InlineData("::", nameof(AddressClass.Unspecified))]
    [InlineData("127.0.0.1", nameof(AddressClass.Loopback))]
    [InlineData("127.255.1.2", nameof(AddressClass.Loopback))]
    [InlineData("::1", nameof(AddressClass.Loopback))]
    [InlineData("10.1.2.3", nameof(AddressClass.Private))]
    [InlineData("172.16.0.1", nameof(AddressClass.Private))]
    [InlineData("172.31.255.255", nameof(AddressClass.Private))]
    [InlineData("192.168.1.1", nameof(AddressClass.Private))]
    [InlineData("100.64.0.1", nameof(AddressClass.Private))]
    [InlineData("fd12:3456::1", nameof(AddressClass.Private))]
    [InlineData("169.254.1.1", nameof(AddressClass.LinkLocal))]
    [InlineData("fe80::1", nameof(AddressClass.LinkLocal))]
    [InlineData("169.254.169.254", nameof(AddressClass.Metadata))]
    [InlineData("fd00:ec2::254", nameof(AddressClass.Metadata))]
    [InlineData("224.0.0.1", nameof(AddressClass.Multicast))]
    [InlineData("ff02::1", nameof(AddressClass.Multicast))]
    [InlineData("255.255.255.255", nameof(AddressClass.Broadcast))]
    [InlineData("240.0.0.1", nameof(AddressClass.Reserved))]
    [InlineData("0.1.2.3", nameof(AddressClass.Reserved))]
    // IPv4-mapped, IPv4-compatible and NAT64 forms are judged by the IPv4 address inside.
    [InlineData("::ffff:127.0.0.1", nameof(AddressClass.Loopback))]
    [InlineData("::ffff:169.254.169.254", nameof(AddressClass.Metadata))]
    [InlineData("::ffff:10.0.0.1", nameof(AddressClass.Private))]
    [InlineData("::127.0.0.1", nameof(AddressClass.Loopback))]
    [InlineData("64:ff9b::a9fe:a9fe", nameof(AddressClass.Metadata))]
    public void Classify_ForbiddenClasses_AreRecognised(string address, string expected) =>
        Assert.Equal(Enum.Parse<AddressClass>(expected), AddressClassifier.Classify(IPAddress.Parse(address)));

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:2800:220:1:248:1893:25c8:1946")]
    [InlineData("::ffff:8.8.8.8")]
    public void Classify_PublicAddresses_ArePublic(string address) =>
        Assert.Equal(AddressClass.Public, AddressClassifier.Classify(IPAddress.Parse(address)));
}
