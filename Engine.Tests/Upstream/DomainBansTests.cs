using Engine.Tests.Forwarding;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>The per-(node, site) ban table: one spelling per site, a hard cap (issue 19.4).</summary>
public sealed class DomainBansTests
{
    private static readonly NodeHealthPolicy Policy = new(new ManualTimeProvider(), 3, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5), 1, TimeSpan.FromMinutes(10));

    [Theory]
    [InlineData("::1", "::1")]
    [InlineData("0:0:0:0:0:0:0:1", "::1")]
    [InlineData("0000:0000::0001", "::1")]
    [InlineData("[::1]", "::1")]
    [InlineData("::ffff:127.0.0.1", "127.0.0.1")]
    [InlineData("Shop.Example.", "shop.example")]
    [InlineData("shop.example", "shop.example")]
    [InlineData("1password.com", "1password.com")]
    public void Normalize_OneSpellingPerSite(string spelling, string canonical) =>
        Assert.Equal(canonical, DomainBans.Normalize(spelling));

    [Fact]
    public void SpellingsOfOneAddress_AreOneEntry_AndOneBan()
    {
        var bans = new DomainBans(Policy);
        // Before: 4,096 spellings of ::1 made 4,096 entries.
        for (int zeros = 1; zeros <= 4; zeros++)
        {
            for (int i = 0; i < 7; i++)
            {
                string spelling = string.Join(":", Enumerable.Repeat(new string('0', zeros), 7)) + ":" + new string('0', i % 3) + "1";
                bans.RecordFailure(2, spelling, 0);
            }
        }

        Assert.Equal(1, bans.Count);
        Assert.True(bans.IsBanned(2, "[::1]", 1));
        Assert.Equal(1, bans.CountBanned(1));
    }

    [Fact]
    public void FullTable_DropsPairsOnlyCountingFailures_ThenRefusesNewPairs_NeverGrows()
    {
        var policy = new NodeHealthPolicy(new ManualTimeProvider(), 3, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5), 2, TimeSpan.FromMinutes(10));
        var bans = new DomainBans(policy, maxEntries: 10);
        long second = policy.Second;
        for (int i = 0; i < 5; i++)
        {
            bans.RecordFailure(0, $"banned{i}.example", 0);
            bans.RecordFailure(0, $"banned{i}.example", 0);   // two failures: banned
        }

        for (int i = 0; i < 5; i++)
        {
            bans.RecordFailure(0, $"counting{i}.example", 0);   // one failure: counting only
        }

        Assert.Equal(10, bans.Count);
        Assert.Equal(5, bans.CountBanned(1));

        // Each newcomer a second apart takes a counting pair's slot; bans stay.
        for (int i = 0; i < 5; i++)
        {
            bans.RecordFailure(0, $"new{i}.example", (i + 1) * second);
            Assert.Equal(10, bans.Count);
        }

        Assert.Equal(5, bans.Evicted);
        // Now every pair but the newcomers is a live ban; newcomers' failures are counted when
        // room is made, refused otherwise; the table never passes its cap.
        for (int i = 0; i < 1_000; i++)
        {
            bans.RecordFailure(0, $"flood{i}.example", 6 * second + i);
            Assert.True(bans.Count <= 10);
        }

        Assert.Equal(5, bans.CountBanned(6 * second));
        Assert.True(bans.IsBanned(0, "banned0.example", 6 * second));
        Assert.True(bans.Evicted >= 1_000);
    }
}
