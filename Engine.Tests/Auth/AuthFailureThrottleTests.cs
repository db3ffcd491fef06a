using System.Net;
using Engine.Auth;
using Engine.Tests.Forwarding;

namespace Engine.Tests.Auth;

/// <summary>The one credential-failure throttle (proxy and admin listeners), issue 19.4/19.5.</summary>
public sealed class AuthFailureThrottleTests
{
    [Fact]
    public void Ipv6Clients_AreKeyedByTheirSlash64_SoNewAddressesDoNotStartAfresh()
    {
        var throttle = new AuthFailureThrottle(3, new ManualTimeProvider());
        for (int i = 1; i <= 3; i++)
        {
            Assert.False(throttle.RecordFailure(IPAddress.Parse($"2001:db8:1:2::{i:x}")));
        }

        // A fourth address of the same /64: the same client, over its limit.
        Assert.True(throttle.RecordFailure(IPAddress.Parse("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        // The next /64 is someone else.
        Assert.False(throttle.RecordFailure(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.Equal(2, throttle.Tracked);
    }

    [Fact]
    public void Ipv4_AndItsMappedIpv6Spelling_AreOneClient_DistinctIpv4AddressesAreNot()
    {
        Assert.Equal(AuthFailureThrottle.KeyOf(IPAddress.Parse("198.51.100.7")), AuthFailureThrottle.KeyOf(IPAddress.Parse("::ffff:198.51.100.7")));
        Assert.NotEqual(AuthFailureThrottle.KeyOf(IPAddress.Parse("198.51.100.7")), AuthFailureThrottle.KeyOf(IPAddress.Parse("198.51.100.8")));
        // An IPv6 /64 whose first bytes look like an IPv4 key is still another client.
        Assert.NotEqual(AuthFailureThrottle.KeyOf(IPAddress.Parse("::c633:6407")), AuthFailureThrottle.KeyOf(IPAddress.Parse("198.51.100.7")));
    }

    [Fact]
    public void FullTable_KeepsEveryoneTracked_NewcomersShareTheOverflowWindow_UntilWindowsEnd()
    {
        var time = new ManualTimeProvider();
        var throttle = new AuthFailureThrottle(2, time, maxTracked: 100);
        IPAddress attacker = IPAddress.Parse("192.0.2.1");
        throttle.RecordFailure(attacker);
        throttle.RecordFailure(attacker);

        // Flooding from 1,000 more /64s must not make the table forget the attacker.
        for (int i = 0; i < 1_000; i++)
        {
            throttle.RecordFailure(IPAddress.Parse($"2001:db8:{i:x}::1"));
        }

        Assert.Equal(100, throttle.Tracked);
        Assert.Equal(1_000 - 99, throttle.Overflowed);
        Assert.True(throttle.RecordFailure(attacker), "the attacker's third failure is still its third");
        // Newcomers past the cap share one window, long over its limit: their failures are slowed.
        Assert.True(throttle.RecordFailure(IPAddress.Parse("2001:db8:ffff::1")));

        // A minute on, the windows are over; the next newcomer's failure sweeps them out and gets its own.
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.False(throttle.RecordFailure(IPAddress.Parse("2001:db8:ffff::1")));
        Assert.Equal(1, throttle.Tracked);
    }

    [Fact]
    public void Off_CountsNothing()
    {
        var throttle = new AuthFailureThrottle(0, TimeProvider.System);
        for (int i = 0; i < 100; i++)
        {
            Assert.False(throttle.RecordFailure(IPAddress.Loopback));
        }

        Assert.Equal(0, throttle.Tracked);
    }
}
