using System.Text;
using Engine.Hosting;
using Engine.Rules;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>Templates, presets, what a gateway can express, and the provider session ids it derives.</summary>
public sealed class GatewayTests
{
    private static (Node Node, NodePool Pool) GatewayNode(GatewayOptions gateway, string? country = null, string? network = null, params NodeOptions[] others)
    {
        var pool = new NodePool(
            [new NodeOptions { Id = "gw", Type = NodeType.Http, Address = "127.0.0.1:5000", Country = country, Network = network, Gateway = gateway }, .. others],
            NodeHealthPolicy.Default(TimeProvider.System));
        return (pool.Find("gw")!, pool);
    }

    private static UpstreamCredentials Render(Node node, string rules, string package = "fleet", string? binding = null, bool renew = false)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(rules);
        Assert.True(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out RuleSet set, out _), rules);
        return node.Gateway!.Render(node, set, bytes, package, set.Session.Of(bytes), binding, renew);
    }

    private static NodeFilter Filter(NodePool pool, string rules)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(rules);
        Assert.True(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out RuleSet set, out _), rules);
        NodeFilter filter = pool.CreateFilter(set.CountryAny ? (ushort)0 : set.Country, set.Region.Of(bytes), set.City.Of(bytes), set.Isp.Of(bytes), set.Asn, set.Network, 0);
        filter.SessionSeconds = set.Session.IsEmpty ? 0 : Gateway.SessionSeconds(set);
        return filter;
    }

    [Theory]
    [InlineData("soax", "country-us-city-new_york", "package-123-country-us-city-new+york", "secret")]
    [InlineData("soax", "country-de-region-bavaria-isp-deutsche_telekom", "package-123-country-de-region-bavaria-isp-deutsche+telekom", "secret")]
    [InlineData("brightdata", "country-us-region-ny-city-new_york-asn-7922", "brd-customer-123-country-us-state-ny-city-newyork-asn-7922", "secret")]
    [InlineData("oxylabs", "country-gb-city-london", "customer-123-cc-gb-city-london", "secret")]
    [InlineData("iproyal", "country-br", "123", "secret_country-br")]
    [InlineData("soax", "country-any", "package-123", "secret")]
    public void Presets_RenderTheProvidersGrammar(string preset, string rules, string username, string password)
    {
        (Node node, _) = GatewayNode(new GatewayOptions { Preset = preset, Account = "123", Password = "secret" });
        UpstreamCredentials credentials = Render(node, rules);
        Assert.Equal(username, credentials.Username);
        Assert.Equal(password, credentials.Password);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(username + ":" + password)), credentials.Authorization);
    }

    [Theory]
    [InlineData("soax", "^package-123-country-us-sessionid-[a-z0-9]{12}-sessionlength-900$", null)]
    [InlineData("oxylabs", "^customer-123-cc-us-sessid-[a-z0-9]{12}-sesstime-15$", null)]
    [InlineData("iproyal", "^123$", "^secret_country-us_session-[a-z0-9]{8}_lifetime-900s$")]
    [InlineData("brightdata", "^brd-customer-123-country-us-session-[a-z0-9]{12}$", null)]
    public void Presets_CarryStickySessions_InTheProvidersUnits(string preset, string username, string? password)
    {
        (Node node, _) = GatewayNode(new GatewayOptions { Preset = preset, Account = "123", Password = "secret" });
        UpstreamCredentials credentials = Render(node, "country-us-session-abc-sessionlength-900");
        Assert.Matches(username, credentials.Username);
        Assert.Matches(password ?? "^secret$", credentials.Password);
        Assert.Equal("gw#", credentials.Binding![..3]);
    }

    [Fact]
    public void ProviderSession_StableForItsBinding_NewWhenRenewedOrRotated_NeverSharedAcrossPackages()
    {
        (Node node, _) = GatewayNode(new GatewayOptions { UsernameTemplate = "u[-s-{session}]", Password = "p" });
        UpstreamCredentials first = Render(node, "session-job1");
        UpstreamCredentials again = Render(node, "session-job1", binding: first.Binding);
        UpstreamCredentials renewed = Render(node, "session-job1", binding: first.Binding, renew: true);
        UpstreamCredentials rotated = Render(node, "session-job1", binding: null);
        UpstreamCredentials otherPackage = Render(node, "session-job1", package: "other", binding: first.Binding);
        UpstreamCredentials otherNode = Render(node, "session-job1", binding: "elsewhere#" + first.Binding![3..]);

        Assert.Equal(first.Username, again.Username);
        Assert.Equal(first.Binding, again.Binding);
        Assert.NotEqual(first.ProviderSession, renewed.ProviderSession);
        Assert.NotEqual(first.ProviderSession, rotated.ProviderSession);
        Assert.NotEqual(first.ProviderSession, otherPackage.ProviderSession);
        Assert.NotEqual(first.ProviderSession, otherNode.ProviderSession);
        Assert.Equal("u", Render(node, "country-us").Username);   // no session: the optional segment vanishes
    }

    [Fact]
    public void Matching_ExpressedFiltersMatchAnyValue_OthersNeedTheNodesTags()
    {
        (Node node, NodePool pool) = GatewayNode(new GatewayOptions { Preset = "oxylabs", Account = "a", Password = "p" }, network: "res",
            others: new NodeOptions { Id = "list", Type = NodeType.Direct, Country = "us", Asn = 7922 });
        Assert.True(node.Gateway!.Matches(Filter(pool, "country-jp-city-osaka"), node));
        Assert.True(node.Gateway.Matches(Filter(pool, "network-res"), node));
        Assert.Equal(FilterDimensions.Network, node.Gateway.Cannot(Filter(pool, "network-mob"), node));
        Assert.Equal(FilterDimensions.Asn, node.Gateway.Cannot(Filter(pool, "country-us-asn-7922"), node));
        Assert.Equal(FilterDimensions.Region, node.Gateway.Cannot(Filter(pool, "region-texas"), node));
        // A session longer than the provider keeps (Oxylabs: 30 min) cannot be held there.
        Assert.True(node.Gateway.Matches(Filter(pool, "session-a-sessionlength-1800"), node));
        Assert.Equal(FilterDimensions.Session, node.Gateway.Cannot(Filter(pool, "session-a-sessionlength-3600"), node));
    }

    [Fact]
    public void Matching_ATemplateWithoutSessions_CannotServeStickyRequests_AndRequiredPlaceholdersNeedValues()
    {
        (Node node, NodePool pool) = GatewayNode(new GatewayOptions { UsernameTemplate = "user-country-{country}", Password = "p" });
        Assert.True(node.Gateway!.Matches(Filter(pool, "country-de"), node));
        Assert.Equal(FilterDimensions.Country, node.Gateway.Cannot(Filter(pool, "city-berlin"), node) & FilterDimensions.Country);
        Assert.Equal(FilterDimensions.Session, node.Gateway.Cannot(Filter(pool, "country-de-session-x"), node));
    }

    [Fact]
    public void Selection_PicksTheGatewayForValuesNoListedNodeHas_AndExplainNamesWhatNothingCanExpress()
    {
        (_, NodePool pool) = GatewayNode(new GatewayOptions { UsernameTemplate = "u[-c-{country}]", Password = "p" },
            others: new NodeOptions { Id = "list", Type = NodeType.Direct, Country = "us" });
        long now = TimeProvider.System.GetTimestamp();
        Assert.True(pool.TrySelect(Filter(pool, "country-jp"), [], null, now, out Node? chosen));
        Assert.Equal("gw", chosen!.Id);

        NodeFilter sticky = Filter(pool, "country-jp-session-x");
        Assert.False(pool.TrySelect(sticky, [], null, now, out _));
        Assert.Equal(SelectStatus.NoMatch, pool.Explain(sticky, now, out FilterDimensions unmatched));
        Assert.Equal(FilterDimensions.Country | FilterDimensions.Session, unmatched);

        NodeFilter asn = Filter(pool, "asn-64500");
        Assert.False(pool.TrySelect(asn, [], null, now, out _));
        pool.Explain(asn, now, out unmatched);
        Assert.Equal(FilterDimensions.Asn, unmatched);
    }

    [Fact]
    public void ASessionBinding_FindsItsGateway()
    {
        (Node node, NodePool pool) = GatewayNode(new GatewayOptions { UsernameTemplate = "u", Password = "p" });
        Assert.Same(node, pool.Find("gw#0123456789abcdef"));
        Assert.Null(pool.Find("other#0123"));
    }

    [Theory]
    [InlineData("u-[c-{country}", "a '[' is not closed")]
    [InlineData("u-[c-[{country}]]", "optional segments do not nest")]
    [InlineData("u-{zip}", "unknown placeholder {zip}")]
    [InlineData("u-{city:shout}", "unknown transform ':shout'")]
    [InlineData("u-{city:min}", "':min' applies to {sessionttl} only")]
    [InlineData("u:{country}", "':' cannot appear in a username")]
    public void BadTemplates_AreRefusedWithAReason(string template, string reason)
    {
        Assert.Null(Gateway.Create(new GatewayOptions { UsernameTemplate = template, Password = "p" }, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Presets_NeedTheirAccount_AndUnknownPresetsAreNamed()
    {
        Assert.Null(Gateway.Create(new GatewayOptions { Preset = "soax", Password = "p" }, out string? error));
        Assert.Contains("needs Account", error, StringComparison.Ordinal);
        Assert.Null(Gateway.Create(new GatewayOptions { Preset = "decodo", Account = "a", Password = "p" }, out error));
        Assert.Contains("soax", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AGateway_NeedsMoreFailuresInARowToBeEjected_ThanAListedNode()
    {
        var time = TimeProvider.System;
        var policy = NodeHealthPolicy.Default(time);
        (Node node, _) = GatewayNode(new GatewayOptions { UsernameTemplate = "u", Password = "p", FailuresToEject = 6 });
        long now = time.GetTimestamp();
        for (int i = 1; i < 6; i++)
        {
            Assert.False(node.RecordFailure(policy, now), $"failure {i} of 6");
        }

        Assert.True(node.RecordFailure(policy, now));
        Assert.False(node.IsAvailable(now));
    }
}
