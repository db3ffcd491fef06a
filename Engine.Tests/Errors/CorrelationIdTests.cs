using System.Text;
using Engine.Errors;

namespace Engine.Tests.Errors;

public class CorrelationIdTests
{
    [Fact]
    public void Next_AcrossThreads_IsUnique()
    {
        const int Threads = 4;
        const int PerThread = 25_000;
        var ids = new CorrelationId[Threads][];
        using var start = new Barrier(Threads);
        Thread[] threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var mine = new CorrelationId[PerThread];
            start.SignalAndWait(TimeSpan.FromSeconds(10));
            for (int i = 0; i < PerThread; i++)
            {
                mine[i] = CorrelationId.Next();
            }

            ids[t] = mine;
        })).ToArray();

        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        }

        var all = ids.SelectMany(x => x).ToList();
        Assert.Equal(Threads * PerThread, all.Count);
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(all.Count, all.Select(id => id.ToString()).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void TryFormat_IsEighteenLowercaseCrockfordCharacters()
    {
        CorrelationId id = CorrelationId.Next();
        Span<byte> utf8 = stackalloc byte[32];
        Assert.True(id.TryFormat(utf8, out int written));
        Assert.Equal(CorrelationId.Length, written);
        Assert.Equal(18, written);
        string text = Encoding.ASCII.GetString(utf8[..written]);
        Assert.Matches("^[0-9a-hjkmnp-tv-z]{18}$", text);
        Assert.Equal(text, id.ToString());
        Assert.Equal(text, $"{id}");
    }

    [Fact]
    public void TryFormat_ShortDestination_ReturnsFalse()
    {
        Assert.False(CorrelationId.Next().TryFormat(stackalloc byte[17], out int written));
        Assert.Equal(0, written);
    }

    [Fact]
    public void Next_SameProcess_SharesThePrefixAndCountsUp()
    {
        string a = CorrelationId.Next().ToString();
        string b = CorrelationId.Next().ToString();
        Assert.Equal(a[..8], b[..8]);
        Assert.True(string.CompareOrdinal(a[8..], b[8..]) < 0, $"{a} then {b}");
    }

    [Fact]
    public void TryParse_RoundTripsAndIgnoresCase()
    {
        CorrelationId id = CorrelationId.Next();
        Assert.True(CorrelationId.TryParse(id.ToString().ToUpperInvariant(), out CorrelationId parsed));
        Assert.Equal(id, parsed);
        Assert.False(CorrelationId.TryParse("too-short", out _));
        Assert.False(CorrelationId.TryParse("0000000000000000lu", out _));
    }

    [Fact]
    public void Default_IsEmptyAndNeverIssued()
    {
        Assert.True(default(CorrelationId).IsEmpty);
        Assert.False(CorrelationId.Next().IsEmpty);
        Assert.Equal(new string('0', 18), default(CorrelationId).ToString());
    }

    [Fact]
    public void NextAndTryFormat_AllocateNothing()
    {
        Span<byte> buffer = stackalloc byte[CorrelationId.Length];
        for (int i = 0; i < 100; i++)
        {
            CorrelationId.Next().TryFormat(buffer, out _);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            CorrelationId.Next().TryFormat(buffer, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
