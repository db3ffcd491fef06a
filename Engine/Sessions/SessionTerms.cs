namespace Engine.Sessions;

/// <summary>A session's timing rules (rules.md), in seconds; 0 = rule not given.</summary>
internal readonly record struct SessionTerms(int LengthSeconds, int IdleTtlSeconds, int RotateSeconds, int RotateRequests);
