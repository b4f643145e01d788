namespace TaskQueue.Broker.Limits;

/// <summary>
/// A limit refused the call and nothing was stored. The gRPC edge maps it to RESOURCE_EXHAUSTED, with a
/// <c>retry-after</c> trailer (whole seconds, rounded up) when waiting helps.
/// </summary>
public sealed class LimitExceededException(string message, TimeSpan? retryAfter = null) : Exception(message)
{
    /// <summary>How long to wait before the same call can succeed; null when waiting alone does not help.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
