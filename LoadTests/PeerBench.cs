using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace LoadTests;

/// <summary>
/// <c>LoadTests peers</c> (the issue's <c>--peers</c>): the engine side by side with the peer
/// proxies of ../shared/bench/peers, pinned the way the peer table is (proxies on CPU 1; origin
/// and load generator on CPU 0), targets alternated inside each repetition, one markdown table of
/// medians with ratios against the engine on stdout. Progress goes to stderr. Everything it
/// starts it stops, on failure and Ctrl-C too.
/// </summary>
internal static class PeerBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Skip(1).Any(a => a is "--help" or "-h" or "help"))
        {
            Console.WriteLine(PeerOptions.Usage);
            return 0;
        }

        PeerOptions options;
        try
        {
            options = PeerOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(PeerOptions.Usage);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            // Handled here, so the run unwinds through its cleanup (engine child, started peers).
            context.Cancel = true;
            Console.Error.WriteLine($"{context.Signal}: stopping after cleanup");
            cancel.Cancel();
        }

        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        await using var run = new PeerRun(options);
        try
        {
            await run.StartAsync(cancel.Token);
            await run.MeasureIdleFreshAsync(cancel.Token);
            await run.WarmUpAsync(cancel.Token);
            await run.MeasureAsync(cancel.Token);
            Console.Write(run.Report());
            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("interrupted: nothing printed");
            return 130;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or ArgumentException or IOException or ExternalException)
        {
            Console.Error.WriteLine($"peers: {e.Message}");
            run.KeepEngineLog();
            return 1;
        }
    }
}
