using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Engine.Auth;
using Engine.Limits;

namespace Engine.Tests.Admin;

/// <summary>Every admin endpoint and error over a real loopback listener, next to a running proxy.</summary>
public sealed class AdminServerTests : IAsyncLifetime
{
    private AdminHarness _h = null!;

    public Task InitializeAsync()
    {
        _h = new AdminHarness(options => options.Packages.Add(
            new Package("capped", "capped-key", limits: new PackageLimits(50, 7, 10_000_000, null))));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonElement problem = await Json(response);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal("https://proxy.invalid/docs/admin.md#" + code.ToLowerInvariant(), problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        Assert.StartsWith(response.RequestMessage!.Method.Method + " /", problem.GetProperty("instance").GetString(), StringComparison.Ordinal);
        return problem;
    }

    [Fact]
    public async Task Healthz_NoToken_IsLive()
    {
        using HttpResponseMessage response = await _h.Anonymous.GetAsync("healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("live", (await Json(response)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Readyz_WithToken_IsReady()
    {
        using HttpResponseMessage response = await _h.Client.GetAsync("readyz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement body = await Json(response);
        Assert.Equal("ready", body.GetProperty("status").GetString());
        Assert.False(body.GetProperty("stateDegraded").GetBoolean());
    }

    [Theory]
    [InlineData("readyz")]
    [InlineData("metrics")]
    [InlineData("status.json")]
    [InlineData("nodes")]
    [InlineData("packages/demo/usage")]
    [InlineData("sessions/demo/abc")]
    [InlineData("no/such/endpoint")]
    public async Task Get_NoToken_Is401WithBearerChallenge(string path)
    {
        using HttpResponseMessage response = await _h.Anonymous.GetAsync(path);

        await AssertProblem(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task Get_WrongToken_Is401InvalidToken()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "nodes");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminHarness.Token + "x");
        using HttpResponseMessage response = await _h.Anonymous.SendAsync(request);

        await AssertProblem(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.Single().Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_TooManyFailedTokens_SlowsWrongOnesWith429_TheRightTokenStillServed()
    {
        for (int i = 0; i < global::Engine.Admin.AdminServer.AuthFailuresPerMinute; i++)
        {
            using HttpResponseMessage wrong = await _h.Anonymous.GetAsync("nodes");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        // Issue 19.5: before, the right token got 429 for the rest of the minute (a lockout).
        using (HttpResponseMessage right = await _h.Client.GetAsync("nodes"))
        {
            Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using HttpResponseMessage response = await _h.Anonymous.GetAsync("nodes");
        TimeSpan took = clock.Elapsed;

        JsonElement problem = await AssertProblem(response, HttpStatusCode.TooManyRequests, "AUTH_THROTTLED");
        Assert.True(took >= TimeSpan.FromMilliseconds(900), $"a throttled wrong token is answered late ({took.TotalMilliseconds:0} ms)");
        Assert.True(response.Headers.ConnectionClose, "a throttled answer closes the connection");
        int retryAfter = (int)response.Headers.RetryAfter!.Delta!.Value.TotalSeconds;
        Assert.InRange(retryAfter, 1, 60);
        Assert.Equal(retryAfter, problem.GetProperty("retryAfterSeconds").GetInt32());

        using HttpResponseMessage again = await _h.Client.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        using HttpResponseMessage health = await _h.Anonymous.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task CrossSiteRequestsWithoutToken_Are403_AndDoNotCountTowardsTheThrottle()
    {
        // A web page in a browser on the admin host cannot spend the address's failures.
        for (int i = 0; i < global::Engine.Admin.AdminServer.AuthFailuresPerMinute * 3; i++)
        {
            using var cross = new HttpRequestMessage(HttpMethod.Get, "nodes");
            cross.Headers.Add("Origin", "http://evil.example");
            using HttpResponseMessage refused = await _h.Anonymous.SendAsync(cross);
            await AssertProblem(refused, HttpStatusCode.Forbidden, "FORBIDDEN");
        }

        using HttpResponseMessage wrong = await _h.Anonymous.GetAsync("nodes");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(0, _h.Admin.Throttle.Throttled);
    }

    [Fact]
    public async Task Get_CrossSiteOrigin_Is403_SameOriginIsServed()
    {
        using var cross = new HttpRequestMessage(HttpMethod.Get, "nodes");
        cross.Headers.Add("Origin", "http://evil.example");
        using HttpResponseMessage refused = await _h.Client.SendAsync(cross);
        await AssertProblem(refused, HttpStatusCode.Forbidden, "FORBIDDEN");

        using var same = new HttpRequestMessage(HttpMethod.Get, "nodes");
        same.Headers.Add("Origin", $"http://127.0.0.1:{_h.Admin.EndPoint.Port}");
        using HttpResponseMessage served = await _h.Client.SendAsync(same);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task UnknownPath_WithToken_Is404()
    {
        using HttpResponseMessage response = await _h.Client.GetAsync("no/such/endpoint");

        await AssertProblem(response, HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Theory]
    [InlineData("POST", "nodes", "GET")]
    [InlineData("GET", "nodes/dc-us-1/drain", "POST")]
    [InlineData("PUT", "nodes/dc-us-1", "DELETE")]
    [InlineData("POST", "sessions/demo/abc", "GET, DELETE")]
    [InlineData("DELETE", "metrics", "GET")]
    public async Task WrongMethod_Is405WithAllow(string method, string path, string allow)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using HttpResponseMessage response = await _h.Client.SendAsync(request);

        await AssertProblem(response, HttpStatusCode.MethodNotAllowed, "METHOD_NOT_ALLOWED");
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task Nodes_ListsEveryNodeWithTagsStateAndHealth()
    {
        using HttpResponseMessage response = await _h.Client.GetAsync("nodes");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement[] nodes = [.. (await Json(response)).EnumerateArray()];
        Assert.Equal(["dc-us-1", "dc-de-1", "res-fr-1"], nodes.Select(n => n.GetProperty("id").GetString()));
        JsonElement us = nodes[0];
        Assert.Equal("direct", us.GetProperty("type").GetString());
        Assert.Equal("us", us.GetProperty("tags").GetProperty("country").GetString());
        Assert.Equal("nyc", us.GetProperty("tags").GetProperty("city").GetString());
        Assert.Equal("dc", us.GetProperty("tags").GetProperty("network").GetString());
        Assert.Equal(3215u, nodes[2].GetProperty("tags").GetProperty("asn").GetUInt32());
        Assert.Equal("active", us.GetProperty("adminState").GetString());
        Assert.True(us.GetProperty("available").GetBoolean());
        Assert.Equal(0, us.GetProperty("inFlight").GetInt32());
        Assert.Equal(0, us.GetProperty("consecutiveFailures").GetInt32());
        Assert.Equal(0, us.GetProperty("ejections").GetInt32());
        Assert.Equal(0, us.GetProperty("domainBans").GetInt32());
        Assert.False(us.TryGetProperty("outUntil", out _));
    }

    [Fact]
    public async Task Drain_NodeGetsNoNewWork_EnableBringsItBack()
    {
        using HttpClient proxy = _h.ProxyClient("country-us");
        using (HttpResponseMessage before = await proxy.GetAsync(_h.OriginUrl("/small")))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using HttpResponseMessage drained = await _h.Client.PostAsync("nodes/dc-us-1/drain", null);
        Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        JsonElement node = await Json(drained);
        Assert.Equal("draining", node.GetProperty("adminState").GetString());
        Assert.False(node.GetProperty("available").GetBoolean());

        using (HttpResponseMessage refused = await proxy.GetAsync(_h.OriginUrl("/small")))
        {
            Assert.True(refused.Headers.Contains("X-Proxy-Error"));   // the only us node is draining
        }

        using HttpResponseMessage enabled = await _h.Client.PostAsync("nodes/dc-us-1/enable", null);
        Assert.Equal("active", (await Json(enabled)).GetProperty("adminState").GetString());
        using HttpResponseMessage after = await proxy.GetAsync(_h.OriginUrl("/small"));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Delete_NodeIsRemoved_EnableOrDrainThenIs409()
    {
        using HttpResponseMessage deleted = await _h.Client.DeleteAsync("nodes/dc-de-1");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal("removed", (await Json(deleted)).GetProperty("adminState").GetString());
        Assert.Null(_h.Proxy.Routing.Pool.Find("dc-de-1"));

        using HttpResponseMessage enable = await _h.Client.PostAsync("nodes/dc-de-1/enable", null);
        await AssertProblem(enable, HttpStatusCode.Conflict, "CONFLICT");
        using HttpResponseMessage drain = await _h.Client.PostAsync("nodes/dc-de-1/drain", null);
        await AssertProblem(drain, HttpStatusCode.Conflict, "CONFLICT");
        using HttpResponseMessage again = await _h.Client.DeleteAsync("nodes/dc-de-1");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task NodeAction_UnknownNode_Is404()
    {
        using HttpResponseMessage response = await _h.Client.PostAsync("nodes/nope/drain", null);

        await AssertProblem(response, HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Theory]
    [InlineData("POST", "nodes/bad%20id/drain", "id")]
    [InlineData("DELETE", "nodes/bad%2Fid", "id")]
    [InlineData("GET", "packages/%C3%A9/usage", "id")]
    [InlineData("GET", "sessions/demo/has%21bang", "id")]
    [InlineData("GET", "sessions/de%24mo/abc", "package")]
    public async Task MalformedId_Is422WithViolations(string method, string path, string field)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using HttpResponseMessage response = await _h.Client.SendAsync(request);

        JsonElement problem = await AssertProblem(response, (HttpStatusCode)422, "INVALID_ID");
        JsonElement violation = problem.GetProperty("violations").EnumerateArray().Single();
        Assert.Equal(field, violation.GetProperty("field").GetString());
        Assert.False(string.IsNullOrEmpty(violation.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task SessionId_LongerThan64_Is422()
    {
        using HttpResponseMessage response = await _h.Client.GetAsync("sessions/demo/" + new string('a', 65));

        await AssertProblem(response, (HttpStatusCode)422, "INVALID_ID");
    }

    [Fact]
    public async Task PackageUsage_AfterTraffic_ShowsBytesInFlightAndLimits()
    {
        using HttpClient proxy = _h.ProxyClient("country-us", "capped-key");
        using (HttpResponseMessage ok = await proxy.GetAsync(_h.OriginUrl("/small")))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        JsonElement usage = default;
        for (int i = 0; i < 100; i++)   // traffic is added, and the slot released, as the request's accounting ends
        {
            using HttpResponseMessage response = await _h.Client.GetAsync("packages/capped/usage");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            usage = await Json(response);
            if (usage.GetProperty("trafficUsedBytes").GetInt64() > 0 && usage.GetProperty("inFlight").GetInt32() == 0)
            {
                break;
            }

            await Task.Delay(20);
        }

        Assert.Equal("capped", usage.GetProperty("id").GetString());
        Assert.Equal("active", usage.GetProperty("status").GetString());
        Assert.True(usage.GetProperty("trafficUsedBytes").GetInt64() > 0);
        Assert.Equal(10_000_000, usage.GetProperty("trafficLimitBytes").GetInt64());
        Assert.Equal(0, usage.GetProperty("inFlight").GetInt32());
        Assert.Equal(7, usage.GetProperty("maxConcurrent").GetInt32());
        Assert.Equal(50, usage.GetProperty("requestsPerSecond").GetInt32());
    }

    [Fact]
    public async Task PackageUsage_UnknownPackage_Is404()
    {
        using HttpResponseMessage response = await _h.Client.GetAsync("packages/nope/usage");

        await AssertProblem(response, HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task Session_GetShowsNode_DeleteEndsIt()
    {
        using HttpClient proxy = _h.ProxyClient("country-us-session-job42");
        using (HttpResponseMessage ok = await proxy.GetAsync(_h.OriginUrl("/small")))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using HttpResponseMessage found = await _h.Client.GetAsync("sessions/demo/job42");
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        JsonElement session = await Json(found);
        Assert.Equal("dc-us-1", session.GetProperty("nodeId").GetString());
        Assert.Equal(1, session.GetProperty("requestsOnNode").GetInt32());
        Assert.Equal(600, session.GetProperty("lengthSeconds").GetInt32());
        Assert.InRange(session.GetProperty("expiresInSeconds").GetDouble(), 500, 600);

        using HttpResponseMessage deleted = await _h.Client.DeleteAsync("sessions/demo/job42");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using HttpResponseMessage gone = await _h.Client.GetAsync("sessions/demo/job42");
        await AssertProblem(gone, HttpStatusCode.NotFound, "NOT_FOUND");
        using HttpResponseMessage deleteAgain = await _h.Client.DeleteAsync("sessions/demo/job42");
        await AssertProblem(deleteAgain, HttpStatusCode.NotFound, "NOT_FOUND");
    }

    [Fact]
    public async Task Session_UnknownPackageAndUnknownSession_AnswerAlike()
    {
        using (HttpClient proxy = _h.ProxyClient("country-us-session-job7"))
        using (HttpResponseMessage ok = await proxy.GetAsync(_h.OriginUrl("/small")))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        // The session exists under demo: asking for it under another (real or unknown) package
        // must look exactly like asking for a session that does not exist.
        string[] paths = ["sessions/nope/job7", "sessions/capped/job7", "sessions/demo/never"];
        var bodies = new List<string>();
        foreach (string path in paths)
        {
            using HttpResponseMessage response = await _h.Client.GetAsync(path);
            JsonElement problem = await AssertProblem(response, HttpStatusCode.NotFound, "NOT_FOUND");
            bodies.Add(problem.GetProperty("title").GetString() + "|" + problem.GetProperty("detail").GetString() + "|" + response.Content.Headers.ContentLength
                .GetValueOrDefault().ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        }

        Assert.Single(bodies.Distinct());
    }

    [Fact]
    public async Task RawSocket_KeepAliveServesTwoRequests_BadRequestIs400AndCloses()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_h.Admin.EndPoint);
        await using var stream = new NetworkStream(socket);
        byte[] twice = Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a b\r\n\r\n");
        await stream.WriteAsync(twice);

        string all = await ReadToEndAsync(stream);

        // A response starts the stream or follows the previous JSON body's closing brace.
        string[] responses = System.Text.RegularExpressions.Regex.Split(all, @"(?<=^|\})HTTP/1\.1 ").Where(r => r.Length > 0).ToArray();
        Assert.Equal(3, responses.Length);
        Assert.StartsWith("200 OK\r\n", responses[0], StringComparison.Ordinal);
        Assert.Contains("Connection: keep-alive\r\n", responses[0], StringComparison.Ordinal);
        Assert.StartsWith("200 OK\r\n", responses[1], StringComparison.Ordinal);
        Assert.StartsWith("400 Bad Request\r\n", responses[2], StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/problem+json\r\n", responses[2], StringComparison.Ordinal);
        Assert.Contains("Connection: close\r\n", responses[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task RawSocket_RequestWithBody_Is413AndCloses()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_h.Admin.EndPoint);
        await using var stream = new NetworkStream(socket);
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /nodes/dc-us-1/drain HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {AdminHarness.Token}\r\nContent-Length: 3\r\n\r\nabc"));

        string all = await ReadToEndAsync(stream);

        Assert.StartsWith("HTTP/1.1 413 ", all, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"BODY_NOT_ACCEPTED\"", all, StringComparison.Ordinal);
        Assert.Equal(global::Engine.Upstream.NodeAdminState.Active, _h.Proxy.Routing.Pool.FindAny("dc-us-1")!.AdminState);
    }

    [Fact]
    public async Task StopAsync_ClosesIdleKeepAliveConnections()
    {
        using HttpResponseMessage warm = await _h.Client.GetAsync("readyz");
        Assert.Equal(HttpStatusCode.OK, warm.StatusCode);

        Task stop = _h.Admin.StopAsync();

        Assert.Same(stop, await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(5))));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => _h.Anonymous.GetAsync("healthz"));
    }

    private static async Task<string> ReadToEndAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var all = new MemoryStream();
        byte[] buffer = new byte[4096];
        while (true)
        {
            int n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0)
            {
                return Encoding.ASCII.GetString(all.ToArray());
            }

            all.Write(buffer, 0, n);
        }
    }
}
