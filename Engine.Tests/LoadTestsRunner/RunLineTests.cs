using HdrHistogram;
using LoadTests;

namespace Engine.Tests.LoadTestsRunner;

public class RunLineTests
{
    private static RunResult Run(long ok, long errors, Outcomes unexpected) =>
        new("connect", "proxy", ok, errors, 0, TimeSpan.FromSeconds(2), new LongHistogram(1, 1_000_000_000, 3)) { Unexpected = unexpected };

    [Fact]
    public void Errors_AreNamed_NotOnlyCounted()
    {
        // A prof run counted 36,400 errors of 60,000 tunnels and the line could not say whose they were.
        var unexpected = new Outcomes();
        unexpected.Add(Outcomes.Label(502, "NODE_UNREACHABLE"));
        unexpected.Add(Outcomes.Label(502, "NODE_UNREACHABLE"));
        unexpected.Add(Outcomes.Label(new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.AddressNotAvailable)));

        string line = LoadProgram.Line(Run(ok: 10, errors: 3, unexpected));

        Assert.StartsWith("scenario=connect mode=proxy ok=10 errors=3 ", line);
        Assert.EndsWith(" unexpected=\"502 NODE_UNREACHABLE=2,SocketException:AddressNotAvailable=1\"", line);
    }

    [Fact]
    public void ErrorsWithoutARecord_SaySo_AndACleanRunAddsNothing()
    {
        Assert.EndsWith(" unexpected=\"unrecorded\"", LoadProgram.Line(Run(ok: 1, errors: 1, new Outcomes())));
        Assert.DoesNotContain("unexpected", LoadProgram.Line(Run(ok: 5, errors: 0, new Outcomes())));
    }
}
