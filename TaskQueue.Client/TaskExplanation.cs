namespace TaskQueue.Client;

/// <summary>Why a task is not running, or what it is doing (<see cref="TaskQueueClient.ExplainAsync"/>).</summary>
public enum TaskExplanationReason
{
    /// <summary>Not reported by the broker (a newer reason this client does not know).</summary>
    Unknown = 0,

    /// <summary>Ready, nothing ahead of it, and a worker for it has a free slot: it is being dispatched.</summary>
    Dispatching,

    /// <summary>Waiting for its time (delay, not-before, retry backoff) until <see cref="TaskExplanation.Until"/>.</summary>
    Scheduled,

    /// <summary>Ready behind <see cref="TaskExplanation.Ahead"/> tasks of its priority.</summary>
    WaitingBehind,

    /// <summary>Ready, and no connected worker consumes its queue.</summary>
    NoWorkerForQueue,

    /// <summary>Ready; workers consume its queue, but none handles its type.</summary>
    NoWorkerForType,

    /// <summary>Ready and next in line; every slot of the workers that could run it is busy.</summary>
    AllSlotsBusy,

    /// <summary>Ready; every worker that could run it is quarantined (the first until <see cref="TaskExplanation.Until"/>).</summary>
    WorkerQuarantined,

    /// <summary>Running on <see cref="TaskExplanation.WorkerId"/>; its lease runs until <see cref="TaskExplanation.Until"/>.</summary>
    Leased,

    /// <summary>Final: it did not start before its expiry.</summary>
    Expired,

    /// <summary>Final: cancelled.</summary>
    Cancelled,

    /// <summary>Final: completed.</summary>
    Completed,

    /// <summary>Final: dead-lettered.</summary>
    DeadLettered,

    /// <summary>Ready; its queue is paused (<see cref="TaskQueueClient.PauseQueueAsync"/>): nothing of it starts until it resumes.</summary>
    Paused,

    /// <summary>Ready; its queue's rate limit holds it back until <see cref="TaskExplanation.Until"/> (the next token).</summary>
    RateLimited,

    /// <summary>Held back by its group's concurrency limit (reserved for flow control).</summary>
    GroupLimited,

    /// <summary>Ready; its queue's concurrency limit is reached (the detail says leased n of the limit).</summary>
    ConcurrencyLimited,
}

/// <summary>A task's explanation: one reason, one human sentence, and the figures behind it.</summary>
public sealed record TaskExplanation
{
    /// <summary>The reason.</summary>
    public TaskExplanationReason Reason { get; init; }

    /// <summary>One human sentence, e.g. "leased by worker-3 until 2026-01-01T12:00:01.000Z (attempt 2 of 5)".</summary>
    public string Detail { get; init; } = "";

    /// <summary>The task's state.</summary>
    public TaskState State { get; init; }

    /// <summary>Scheduled until, leased until, or quarantined until; null when the reason has no time.</summary>
    public DateTimeOffset? Until { get; init; }

    /// <summary>Tasks ahead of it in its queue's ready stream (when ready).</summary>
    public long Ahead { get; init; }

    /// <summary>Counting the tasks ahead stopped at its bound: there are at least <see cref="Ahead"/>.</summary>
    public bool AheadIsLowerBound { get; init; }

    /// <summary>The worker running it (when leased).</summary>
    public string? WorkerId { get; init; }
}
