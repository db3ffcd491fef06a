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
    // Issue 19.2: the IANA special-purpose blocks the classifier used to call public.
    [InlineData("192.0.2.2", nameof(AddressClass.Reserved))]           // TEST-NET-1 (this lab machine's interface address)
    [InlineData("198.51.100.7", nameof(AddressClass.Reserved))]        // TEST-NET-2
    [InlineData("203.0.113.255", nameof(AddressClass.Reserved))]       // TEST-NET-3
    [InlineData("192.88.99.1", nameof(AddressClass.Reserved))]         // 6to4 relay anycast
    [InlineData("192.0.0.170", nameof(AddressClass.Reserved))]         // NAT64 discovery
    [InlineData("198.19.255.255", nameof(AddressClass.Reserved))]      // benchmarking
    [InlineData("2001::1", nameof(AddressClass.Reserved))]             // Teredo 2001::/32
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2", nameof(AddressClass.Reserved))]
    [InlineData("2001:2::1", nameof(AddressClass.Reserved))]           // benchmarking 2001:2::/48
    [InlineData("2001:10::1", nameof(AddressClass.Reserved))]          // ORCHID (deprecated)
    [InlineData("2001:1::4", nameof(AddressClass.Reserved))]           // 2001::/23 not in a global sub-block
    [InlineData("2001:db8::1", nameof(AddressClass.Reserved))]         // documentation
    [InlineData("3fff::1", nameof(AddressClass.Reserved))]             // documentation (RFC 9637)
    [InlineData("3fff:fff::1", nameof(AddressClass.Reserved))]
    [InlineData("100::1", nameof(AddressClass.Reserved))]              // discard-only
    [InlineData("100:0:0:1::1", nameof(AddressClass.Reserved))]        // dummy prefix
    [InlineData("5f00::1", nameof(AddressClass.Reserved))]             // SRv6 SIDs
    [InlineData("4000::1", nameof(AddressClass.Reserved))]             // outside 2000::/3
    [InlineData("::1:2:3:4", nameof(AddressClass.Reserved))]           // ::/8
    [InlineData("64:ff9b:1::a00:1", nameof(AddressClass.Private))]     // local-use NAT64 (RFC 8215)
    // 6to4 2002::/16 is judged by the IPv4 address in bytes 2-5.
    [InlineData("2002:7f00:1::1", nameof(AddressClass.Loopback))]
    [InlineData("2002:a9fe:a9fe::", nameof(AddressClass.Metadata))]
    [InlineData("2002:c0a8:101::1", nameof(AddressClass.Private))]
    [InlineData("2002:c000:202::1", nameof(AddressClass.Reserved))]
    [InlineData("64:ff9b::7f00:1", nameof(AddressClass.Loopback))]
    public void Classify_ForbiddenClasses_AreRecognised(string address, string expected) =>
        Assert.Equal(Enum.Parse<AddressClass>(expected), AddressClassifier.Classify(IPAddress.Parse(address)));

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:2800:220:1:248:1893:25c8:1946")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("192.0.1.1")]
    [InlineData("192.0.3.1")]
    [InlineData("198.51.101.1")]
    [InlineData("203.0.112.1")]
    [InlineData("2002:808:808::1")]                  // 6to4 of a public address
    [InlineData("64:ff9b::808:808")]                 // NAT64 of a public address
    [InlineData("2001:1::1")]                        // PCP anycast (globally reachable)
    [InlineData("2001:3::1")]                        // AMT
    [InlineData("2001:4:112::1")]                    // AS112
    [InlineData("2001:20::1")]                       // ORCHIDv2
    [InlineData("2001:200::1")]                      // past 2001::/23
    [InlineData("2001:4860:4860::8888")]
    [InlineData("3ffe::1")]
    [InlineData("2a00:1450::1")]
    public void Classify_PublicAddresses_ArePublic(string address) =>
        Assert.Equal(AddressClass.Public, AddressClassifier.Classify(IPAddress.Parse(address)));
}
