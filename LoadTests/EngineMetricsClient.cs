using System.Net.Http.Headers;

namespace LoadTests;

/// <summary>
/// Scrapes the engine's admin <c>/metrics</c> (bearer token) for its <see cref="RuntimeCounters"/>.
/// Plain HttpClient: a scrape happens before and after a run, never on the measured path.
/// </summary>
internal sealed class EngineMetricsClient : IDisposable
{
    private readonly HttpClient _client;
    private readonly Uri _metrics;

    public EngineMetricsClient(Uri metrics, string? token)
    {
        _metrics = metrics;
        _client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        if (token is not null)
        {
            _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>Null (and a note on stderr) when the scrape fails or carries no runtime figures: the run's other figures still count.</summary>
    public async Task<RuntimeCounters?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            string text = await _client.GetStringAsync(_metrics, cancellationToken);
            if (RuntimeCounters.TryParse(text, out RuntimeCounters counters))
            {
                return counters;
            }

            Console.Error.WriteLine($"{_metrics}: no dotnet_gc_* series (an engine built before the runtime meter was exported?)");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine($"{_metrics}: {e.Message}");
        }

        return null;
    }

    public void Dispose() => _client.Dispose();
}
