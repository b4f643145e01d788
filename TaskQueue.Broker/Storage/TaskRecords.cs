namespace TaskQueue.Broker.Storage;

/// <summary>A task as submitted.</summary>
public sealed record NewTask(string Queue, string Type, ReadOnlyMemory<byte> Payload)
{
    /// <summary>0 (lowest, default) to 9 (highest).</summary>
    public int Priority { get; init; }

    /// <summary>Null: the store's default.</summary>
    public int? MaxAttempts { get; init; }

    public TimeSpan Delay { get; init; }

    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>How long one attempt may run before the worker cancels it. Null: no limit.</summary>
    public TimeSpan? ExecutionTimeout { get; init; }

    /// <summary>Drop the task if it has not started this long after submission. Null: never.</summary>
    public TimeSpan? ExpiresAfter { get; init; }

    public string? IdempotencyKey { get; init; }

    public string? TraceParent { get; init; }

    public string? TraceState { get; init; }

    /// <summary>While a task with this key in the queue is not final, a submit with it creates nothing and returns that task.</summary>
    public string? UniqueKey { get; init; }

    /// <summary>While a task with this key in the queue still waits, a submit with it replaces that task's payload and pushes its start back.</summary>
    public string? DebounceKey { get; init; }

    /// <summary>With <see cref="DebounceKey"/>: the task starts no earlier than this long after its last submit.</summary>
    public TimeSpan? DebounceWindow { get; init; }

    /// <summary>Its group: claims go round-robin across the groups of a priority level, and group limits apply; null: none.</summary>
    public string? Group { get; init; }
}

/// <summary>What a submit did; the values are the enqueue script's outcome codes.</summary>
public enum EnqueueOutcome
{
    /// <summary>A new task was created.</summary>
    Created = 0,

    /// <summary>The idempotency key named an earlier task: nothing was written.</summary>
    IdempotentDuplicate = 1,

    /// <summary>A task with the unique key is waiting or running: nothing was written.</summary>
    UniqueExisting = 2,

    /// <summary>A task with the debounce key still waited: its payload was replaced and its start pushed back.</summary>
    Debounced = 3,
}

/// <summary>The task a submit answered with, and how: <see cref="Duplicate"/> whenever nothing new was created.</summary>
public readonly record struct EnqueueResult(TaskId Id, EnqueueOutcome Outcome)
{
    public bool Duplicate => Outcome != EnqueueOutcome.Created;
}

/// <summary>A task leased to a worker by a claim.</summary>
public sealed record LeasedTask(
    TaskId Id,
    string Type,
    ReadOnlyMemory<byte> Payload,
    int Attempt,
    int MaxAttempts,
    int Priority,
    TimeSpan? ExecutionTimeout,
    string? TraceParent,
    string? TraceState,
    string LeaseToken,
    DateTimeOffset LeaseDeadline,
    DateTimeOffset EnqueuedAt)
{
    /// <summary>The last checkpoint an earlier attempt stored; empty when none.</summary>
    public ReadOnlyMemory<byte> Checkpoint { get; init; }
}

/// <summary>What a claim did: the tasks leased, and the scheduled work it promoted or expired on the way.</summary>
public sealed record ClaimResult(IReadOnlyList<LeasedTask> Tasks, int Promoted, int Expired)
{
    /// <summary>What flow control held back (a paused queue, a concurrency or rate limit); <see cref="ClaimHold.None"/> when nothing.</summary>
    public ClaimHold Hold { get; init; } = ClaimHold.None;
}

/// <summary>
/// Ready work a claim held back because of flow control, and when to claim again: after <see cref="RetryAfter"/>
/// (a rate limit admits more then), or when a lease of the queue ends or the queue resumes (the scripts publish
/// the queue on the ready channel then, so every broker's dispatcher is woken).
/// </summary>
public sealed record ClaimHold(bool Held, TimeSpan? RetryAfter)
{
    public static ClaimHold None { get; } = new(false, null);

    /// <summary>Held until a lease ends or the queue resumes.</summary>
    public static ClaimHold UntilReleased { get; } = new(true, null);

    /// <summary>From the claim script's reply (lib/flow.lua): 0 nothing held, &gt; 0 ms until a rate limit admits more, -1 until released.</summary>
    public static ClaimHold FromScript(long held) => held switch
    {
        0 => None,
        < 0 => UntilReleased,
        _ => new ClaimHold(true, TimeSpan.FromMilliseconds(held)),
    };
}

/// <summary>A lease as a worker presents it: the fencing token proves it is the current holder.</summary>
public readonly record struct LeaseRef(TaskId Id, string Token);

public sealed record TaskCompletion(TaskId Id, string Token, ReadOnlyMemory<byte> Result);

public sealed record TaskFailure(TaskId Id, string Token, string Error, bool Retryable);

public sealed record RenewResult(DateTimeOffset Deadline, IReadOnlyList<TransitionResult> Results);

public sealed record CancelResult(TransitionResult Result, string? WorkerId);

/// <summary>
/// An expired lease the reaper took back, when it was granted (Redis time), where the task went, and
/// the attempt's type, number and trace context (for telemetry).
/// </summary>
public sealed record ReapedLease(
    TaskId Id, string WorkerId, DateTimeOffset LeasedAt, TransitionResult Outcome,
    string Type, int Attempt, int MaxAttempts, string? TraceParent, string? TraceState);

public sealed record PromoteResult(int Promoted, int Expired, TimeSpan? NextDueIn);

/// <summary>Queues whose time in the due index has come (earliest first), and how long until the next one not due yet (null: none).</summary>
public sealed record DueQueues(IReadOnlyList<string> Queues, TimeSpan? NextDueIn);

public enum TaskState
{
    Ready,
    Scheduled,
    Leased,
    Completed,
    DeadLettered,
    Cancelled,
    Expired,
}

/// <summary>Everything the store knows about one task.</summary>
public sealed record TaskSnapshot(
    TaskId Id,
    string Type,
    TaskState State,
    int Attempt,
    int MaxAttempts,
    int Priority,
    ReadOnlyMemory<byte> Payload,
    ReadOnlyMemory<byte> Result,
    string? LastError,
    string? WorkerId,
    string? LeaseToken,
    bool CancelRequested,
    string? IdempotencyKey,
    string? TraceParent,
    string? TraceState,
    TimeSpan? ExecutionTimeout,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? DueAt)
{
    public bool IsFinal => State is TaskState.Completed or TaskState.DeadLettered or TaskState.Cancelled or TaskState.Expired;

    /// <summary>The last progress a lease holder reported (0..100), with its status line and when it was stored; null when none.</summary>
    public int? ProgressPercent { get; init; }

    public string? ProgressMessage { get; init; }

    public DateTimeOffset? ProgressAt { get; init; }

    /// <summary>The last checkpoint a lease holder stored; empty when none (or when it was not read: Watch leaves it out).</summary>
    public ReadOnlyMemory<byte> Checkpoint { get; init; }

    /// <summary>When the current lease ends unless renewed; null when the task is not leased (or it was not read).</summary>
    public DateTimeOffset? LeaseDeadline { get; init; }

    public string? UniqueKey { get; init; }

    public string? DebounceKey { get; init; }

    public string? Group { get; init; }
}

/// <summary>A progress report of a lease holder, as the broker coalesced it (the latest of its task).</summary>
public sealed record TaskProgressReport(TaskId Id, string Token, int Percent, string Message);

/// <summary>A checkpoint of a lease holder; <paramref name="Percent"/> -1 leaves the progress as it is.</summary>
public sealed record TaskCheckpointReport(TaskId Id, string Token, ReadOnlyMemory<byte> State, int Percent, string Message);

/// <summary>A queue's depth (from its Redis structures) and lifetime counters.</summary>
public sealed record QueueCounts(
    string Queue,
    long Ready,
    long Leased,
    long Scheduled,
    long DeadLettered,
    long Submitted,
    long Completed,
    long Failed,
    long Retried,
    long DeadLetteredTotal,
    long Expired,
    long Cancelled,
    long Replayed,
    long StaleRejected)
{
    /// <summary>The queue is paused (flow control): it dispatches nothing.</summary>
    public bool Paused { get; init; }

    /// <summary>The queue's flow limits (<see cref="FlowLimits.None"/>: none).</summary>
    public FlowLimits Limits { get; init; } = FlowLimits.None;
}
