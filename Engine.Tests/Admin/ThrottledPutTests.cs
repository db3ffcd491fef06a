using System.Net;
using System.Text;
using Engine.Tests.Admin;

namespace Engine.Tests.Admin;

/// <summary>A throttled wrong token closes the connection on a PUT with a body too (docs/admin.md, Authentication).</summary>
public sealed class ThrottledPutTests : IAsyncLifetime
{
    private AdminHarness _h = null!;

    public Task InitializeAsync()
    {
        _h = new AdminHarness();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    // docs/admin.md "Authentication": once throttled, wrong tokens are answered after 1 s with
    // 429 AUTH_THROTTLED, Retry-After and `Connection: close`.
    [Fact]
    public async Task ThrottledWrongToken_OnAPutWithABody_ClosesTheConnection()
    {
        for (int i = 0; i < global::Engine.Admin.AdminServer.AuthFailuresPerMinute; i++)
        {
            using HttpResponseMessage wrong = await _h.Anonymous.GetAsync("nodes");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var put = new HttpRequestMessage(HttpMethod.Put, "nodes/x")
        {
            Content = new StringContent("{\"Type\":\"direct\"}", Encoding.UTF8, "application/json"),
        };
        put.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "wrong");
        using HttpResponseMessage response = await _h.Anonymous.SendAsync(put);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.True(response.Headers.ConnectionClose, "a throttled answer closes the connection");
    }
}
