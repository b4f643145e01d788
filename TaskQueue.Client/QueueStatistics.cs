namespace TaskQueue.Client;

/// <summary>
/// A queue's current counts (Ready, Scheduled, Leased, DeadLettered) and its cumulative counters
/// (Submitted, Completed, Failed, Retried, Expired, Cancelled).
/// </summary>
public sealed record QueueStatistics
{
    public required string Queue { get; init; }

    public long Ready { get; init; }

    public long Scheduled { get; init; }

    public long Leased { get; init; }

    public long DeadLettered { get; init; }

    public long Submitted { get; init; }

    public long Completed { get; init; }

    public long Failed { get; init; }

    public long Retried { get; init; }

    public long Expired { get; init; }

    public long Cancelled { get; init; }

    /// <summary>Tasks not yet in a final state.</summary>
    public long Pending => Ready + Scheduled + Leased;
}
