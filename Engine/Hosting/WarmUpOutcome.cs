namespace Engine.Hosting;

/// <summary>How the start-up warm-up ended (<see cref="WarmUpResult"/>).</summary>
internal enum WarmUpOutcome : byte
{
    Ran,
    Skipped,
    Failed,
}
