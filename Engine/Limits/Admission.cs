namespace Engine.Limits;

/// <summary>What the limiter decided for one request, in the order it checks.</summary>
internal enum Admission : byte
{
    Admitted,
    /// <summary>407 PACKAGE_NO_CREDITS: the organisation's credit pool is empty.</summary>
    NoCredits,
    /// <summary>429 TRAFFIC_LIMIT_EXCEEDED: the package's own byte cap is used up.</summary>
    TrafficExceeded,
    /// <summary>429 RATE_LIMIT_EXCEEDED, limitedBy concurrency.</summary>
    TooManyConcurrent,
    /// <summary>429 RATE_LIMIT_EXCEEDED, limitedBy rps.</summary>
    TooManyPerSecond,
}
