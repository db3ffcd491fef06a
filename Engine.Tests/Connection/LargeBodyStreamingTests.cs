using System.Net;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Connection;

/// <summary>
/// Measures the process's live heap while 100 MiB are relayed, so it runs alone (the Serial
/// collection): tests running beside it would count their own objects as this one's.
/// </summary>
[Collection("Serial")]
public sealed class LargeBodyStreamingTests
{
    [Fact]
    public async Task Get_LargeBody_IsStreamedNotBuffered()
    {
        const long Size = 100L * 1024 * 1024;
        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        await using var origin = new TestOrigin();
        await using var proxy = new ProxyFixture();
        using var client = new HttpClient(new SocketsHttpHandler
        {
            Proxy = new WebProxy(proxy.Uri) { Credentials = new NetworkCredential("country-us", ProxyFixture.Key) },
            UseProxy = true,
        }) { Timeout = TimeSpan.FromSeconds(30) };
        using HttpResponseMessage response = await client.GetAsync($"http://127.0.0.1:{origin.Port}/bytes/{Size}", HttpCompletionOption.ResponseHeadersRead);
        await using Stream stream = await response.Content.ReadAsStreamAsync();
        byte[] buffer = new byte[256 * 1024];
        long total = 0;
        long peakLive = 0;
        long nextSample = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)((total + i) % 251 % 256))
                {
                    Assert.Fail($"byte {total + i} differs");
                }
            }

            total += n;
            if (total >= nextSample)
            {
                // Live objects only (a full collection first): garbage is not what "buffered" means.
                peakLive = Math.Max(peakLive, GC.GetTotalMemory(forceFullCollection: true));
                nextSample += 10 * 1024 * 1024;
            }
        }

        Assert.Equal(Size, total);
        // Proxy, origin and client share this process; together they hold far less than the body.
        long growth = peakLive - baseline;
        Assert.True(growth < 16 * 1024 * 1024, $"live heap grew by {growth / 1048576} MiB while relaying {Size / 1048576} MiB");
    }
}
