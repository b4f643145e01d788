namespace TaskQueue.Broker.Storage;

/// <summary>The outcome of one transition for one task. Values are the scripts' return codes.</summary>
public enum TransitionResult
{
    /// <summary>The task does not exist (never did, or its retention ran out).</summary>
    NotFound = -1,

    /// <summary>The lease token is not the current holder's, or the lease expired: nothing changed.</summary>
    StaleLease = 0,

    Ok = 1,
    Retrying = 2,
    DeadLettered = 3,
    Cancelled = 4,

    /// <summary>The task is running; its owner will be told to stop.</summary>
    CancelRequested = 5,

    /// <summary>The task already reached a final state: nothing changed.</summary>
    AlreadyFinished = 6,

    /// <summary>
    /// Not renewed: the attempt ran past its execution timeout plus the grace and ended as failed (retried or
    /// dead-lettered); its holder is told its lease is lost (reason "timeout").
    /// </summary>
    TimedOut = 7,
}

/// <summary>Maps script return codes (Scripts/lib/common.lua) to results: the one place they are read.</summary>
public static class ScriptCodes
{
    public static TransitionResult ToResult(long code) =>
        code is >= -1 and <= 7
            ? (TransitionResult)code
            : throw new InvalidOperationException($"A TaskQueue script returned the unknown code {code}.");

    public static EnqueueOutcome ToOutcome(long code) =>
        code is >= 0 and <= 3
            ? (EnqueueOutcome)code
            : throw new InvalidOperationException($"The enqueue script returned the unknown outcome {code}.");

    public static TaskState ToState(string? state) => state switch
    {
        "ready" => TaskState.Ready,
        "scheduled" => TaskState.Scheduled,
        "leased" => TaskState.Leased,
        "completed" => TaskState.Completed,
        "dead" => TaskState.DeadLettered,
        "cancelled" => TaskState.Cancelled,
        "expired" => TaskState.Expired,
        _ => throw new InvalidOperationException($"A task hash holds the unknown state '{state}'."),
    };
}
