using System.Collections.Concurrent;
using System.Net;

namespace Engine.Admin;

/// <summary>
/// Slows token guessing: a client address with <see cref="MaxFailures"/> failed authentications
/// within one window gets 429 until the window is over. Fixed windows per address, swept as they
/// are touched; the table is bounded so a flood of source addresses cannot grow it without end.
/// </summary>
internal sealed class AuthThrottle(TimeProvider time, int maxFailures = AuthThrottle.DefaultMaxFailures, TimeSpan? window = null)
{
    // 10 wrong tokens a minute is far beyond a mistyped token and far below a useful guessing rate
    // (a 128-bit token is not guessable at any rate; short operator-chosen tokens are the risk).
    public const int DefaultMaxFailures = 10;

    private const int MaxTracked = 10_000;

    private readonly ConcurrentDictionary<IPAddress, Window> _clients = new();
    private readonly TimeSpan _window = window ?? TimeSpan.FromMinutes(1);

    public int MaxFailures { get; } = maxFailures;

    /// <summary>Seconds until <paramref name="client"/> may try again; 0 when it may try now.</summary>
    public int RetryAfterSeconds(IPAddress client)
    {
        if (!_clients.TryGetValue(client, out Window? window))
        {
            return 0;
        }

        lock (window)
        {
            TimeSpan left = window.Start + _window - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                _clients.TryRemove(new KeyValuePair<IPAddress, Window>(client, window));
                return 0;
            }

            return window.Failures >= MaxFailures ? Math.Max(1, (int)Math.Ceiling(left.TotalSeconds)) : 0;
        }
    }

    public void Failed(IPAddress client)
    {
        if (_clients.Count >= MaxTracked)
        {
            Sweep();
        }

        DateTimeOffset now = time.GetUtcNow();
        Window window = _clients.GetOrAdd(client, _ => new Window { Start = now });
        lock (window)
        {
            if (now - window.Start >= _window)
            {
                window.Start = now;
                window.Failures = 0;
            }

            window.Failures++;
        }
    }

    private void Sweep()
    {
        DateTimeOffset now = time.GetUtcNow();
        foreach (KeyValuePair<IPAddress, Window> pair in _clients)
        {
            if (now - pair.Value.Start >= _window)
            {
                _clients.TryRemove(pair);
            }
        }
    }

    private sealed class Window
    {
        public DateTimeOffset Start;
        public int Failures;
    }
}
