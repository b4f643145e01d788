namespace TaskQueue.Client;

/// <summary>
/// A queue's current counts (Ready, Scheduled, Leased, DeadLettered) and its cumulative counters
/// (Submitted, Completed, Failed, Retried, Expired, Cancelled).
/// </summary>
public sealed record QueueStatistics
{
    /// <summary>The queue's name.</summary>
    public required string Queue { get; init; }

    /// <summary>Tasks waiting for a worker now.</summary>
    public long Ready { get; init; }

    /// <summary>Tasks waiting for their time now (delayed or retrying).</summary>
    public long Scheduled { get; init; }

    /// <summary>Tasks running now.</summary>
    public long Leased { get; init; }

    /// <summary>Tasks in the dead-letter queue now.</summary>
    public long DeadLettered { get; init; }

    /// <summary>Tasks accepted so far (duplicates of an idempotency key not counted).</summary>
    public long Submitted { get; init; }

    /// <summary>Tasks completed so far.</summary>
    public long Completed { get; init; }

    /// <summary>Failed attempts so far.</summary>
    public long Failed { get; init; }

    /// <summary>Attempts scheduled again after a failure or an expired lease, so far.</summary>
    public long Retried { get; init; }

    /// <summary>Tasks dropped because they did not start in time, so far.</summary>
    public long Expired { get; init; }

    /// <summary>Tasks cancelled so far.</summary>
    public long Cancelled { get; init; }

    /// <summary>The queue is paused (flow control): it accepts submits and starts nothing.</summary>
    public bool Paused { get; init; }

    /// <summary>The queue's limits (flow control).</summary>
    public QueueLimitSettings Limits { get; init; } = new();

    /// <summary>Tasks not yet in a final state.</summary>
    public long Pending => Ready + Scheduled + Leased;
}
