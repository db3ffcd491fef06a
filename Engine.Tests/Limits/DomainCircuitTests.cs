using Engine.Hosting;
using Engine.Limits;
using Engine.Tests.Forwarding;

namespace Engine.Tests.Limits;

public class DomainCircuitTests
{
    private readonly ManualTimeProvider _time = new();

    private static readonly CircuitBreakerOptions Options = new()
    {
        FailureRatio = 0.3, Window = TimeSpan.FromMinutes(5), MinRequests = 10, Cooldown = TimeSpan.FromMinutes(1),
    };

    private long Now => _time.GetTimestamp();

    private DomainCircuit Circuit() => new(Options, _time, Now);

    private void Feed(DomainCircuit circuit, int successes, int failures)
    {
        for (int i = 0; i < successes + failures; i++)
        {
            Assert.True(circuit.TryPass(Now, out _, out bool trial));
            circuit.Record(i < failures ? CircuitOutcome.Failure : CircuitOutcome.Success, trial, Now);
        }
    }

    [Fact]
    public void Record_BelowMinRequests_NeverOpens()
    {
        DomainCircuit circuit = Circuit();
        Feed(circuit, 0, 9);
        Assert.True(circuit.TryPass(Now, out _, out _));
    }

    [Fact]
    public void Record_ExactlyTheRatio_StaysClosed_MoreThanTheRatioOpens()
    {
        DomainCircuit atRatio = Circuit();
        Feed(atRatio, 7, 3);   // 30 %: not more than 30 %
        Assert.False(atRatio.IsOpen(Now));

        DomainCircuit above = Circuit();
        Feed(above, 6, 4);
        Assert.True(above.IsOpen(Now));
        Assert.False(above.TryPass(Now, out int retryAfter, out _));
        Assert.Equal(60, retryAfter);
    }

    [Fact]
    public void Cooldown_ThenOneTrial_SuccessCloses()
    {
        DomainCircuit circuit = Circuit();
        Feed(circuit, 0, 10);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(circuit.TryPass(Now, out int retryAfter, out _));
        Assert.Equal(30, retryAfter);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(circuit.TryPass(Now, out _, out bool trial));
        Assert.True(trial);
        Assert.False(circuit.TryPass(Now, out _, out _));   // one trial at a time
        circuit.Record(CircuitOutcome.Success, trial, Now);
        Assert.False(circuit.IsOpen(Now));
        Feed(circuit, 0, 9);   // a fresh window: nine failures are below MinRequests again
        Assert.False(circuit.IsOpen(Now));
    }

    [Fact]
    public void Cooldown_ThenTrialFails_ReopensForAnotherCooldown()
    {
        DomainCircuit circuit = Circuit();
        Feed(circuit, 0, 10);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(circuit.TryPass(Now, out _, out bool trial));
        circuit.Record(CircuitOutcome.Failure, trial, Now);
        Assert.False(circuit.TryPass(Now, out int retryAfter, out _));
        Assert.Equal(60, retryAfter);
    }

    [Fact]
    public void Window_OldFailuresAgeOut()
    {
        DomainCircuit circuit = Circuit();
        Feed(circuit, 0, 3);
        _time.Advance(TimeSpan.FromMinutes(6));
        Feed(circuit, 7, 0);
        Feed(circuit, 0, 1);   // 1 of 8 in the window
        Assert.False(circuit.IsOpen(Now));
    }

    [Fact]
    public void Neutral_Outcomes_DoNotCount()
    {
        DomainCircuit circuit = Circuit();
        for (int i = 0; i < 50; i++)
        {
            circuit.Record(CircuitOutcome.Neutral, false, Now);
        }

        Feed(circuit, 0, 9);
        Assert.False(circuit.IsOpen(Now));
    }
}
