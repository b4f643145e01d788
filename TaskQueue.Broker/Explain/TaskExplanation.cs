using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Explain;

/// <summary>Why a task is not running, or what it is doing (the values are ExplainReason's on the wire).</summary>
internal enum ExplanationReason
{
    /// <summary>Ready, nothing ahead of it, and a worker for it has a free slot: it is being dispatched.</summary>
    Dispatching = 1,

    /// <summary>Scheduled (delay, not-before, retry backoff) until <see cref="TaskExplanation.Until"/>.</summary>
    Scheduled = 2,

    /// <summary>Ready behind <see cref="TaskExplanation.Ahead"/> tasks of its ready stream.</summary>
    WaitingBehind = 3,

    /// <summary>Ready, and no connected worker consumes its queue.</summary>
    NoWorkerForQueue = 4,

    /// <summary>Ready; workers consume its queue but none handles its type.</summary>
    NoWorkerForType = 5,

    /// <summary>Ready at the head of its stream; every slot of the workers that could run it is busy (or stuck).</summary>
    AllSlotsBusy = 6,

    /// <summary>Ready; every worker that could run it is quarantined, until <see cref="TaskExplanation.Until"/>.</summary>
    WorkerQuarantined = 7,

    /// <summary>Running on <see cref="TaskExplanation.WorkerId"/>, its lease deadline <see cref="TaskExplanation.Until"/>.</summary>
    Leased = 8,

    Expired = 9,
    Cancelled = 10,
    Completed = 11,
    DeadLettered = 12,

    /// <summary>
    /// Ready, and its group is at its concurrency limit, or has no token of its rate limit until
    /// <see cref="TaskExplanation.Until"/>: claims skip the group meanwhile.
    /// </summary>
    GroupLimited = 15,
    /// <summary>Ready; its queue is paused.</summary>
    Paused = 13,

    /// <summary>Ready; its queue's token bucket is empty until <see cref="TaskExplanation.Until"/>.</summary>
    RateLimited = 14,

    /// <summary>Ready; its queue's concurrency limit is reached.</summary>
    ConcurrencyLimited = 16,
}

/// <summary>One task's explanation: the reason, one human sentence, and the figures behind it.</summary>
internal sealed record TaskExplanation(
    ExplanationReason Reason,
    string Detail,
    TaskState State,
    DateTimeOffset? Until = null,
    long Ahead = 0,
    bool AheadIsLowerBound = false,
    string? WorkerId = null);
