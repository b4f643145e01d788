namespace TaskQueue.Client;

/// <summary>
/// The id of a submitted task, or of the task that answered instead (<paramref name="Duplicate"/>: nothing new was
/// created; <see cref="Outcome"/> says why).
/// </summary>
public sealed record SubmitResult(string TaskId, bool Duplicate)
{
    /// <summary>What the submit did (from an older broker: <see cref="SubmitOutcome.Created"/> or <see cref="SubmitOutcome.IdempotentDuplicate"/>).</summary>
    public SubmitOutcome Outcome { get; init; } = Duplicate ? SubmitOutcome.IdempotentDuplicate : SubmitOutcome.Created;
}

/// <summary>What a submit did.</summary>
public enum SubmitOutcome
{
    /// <summary>A new task was created.</summary>
    Created,

    /// <summary>The idempotency key matched an earlier task: nothing was enqueued, <see cref="SubmitResult.TaskId"/> is that task.</summary>
    IdempotentDuplicate,

    /// <summary>A task with the unique key is waiting or running: nothing was enqueued, <see cref="SubmitResult.TaskId"/> is that task.</summary>
    UniqueExisting,

    /// <summary>A task with the debounce key still waited: it now has this payload and starts a window from now.</summary>
    Debounced,
}

/// <summary>The state after a cancel: Cancelled when it was waiting, Leased with CancelRequested when its worker was told.</summary>
public sealed record CancelResult(TaskState State, bool CancelRequested);

/// <summary>One page of a queue's dead letters, and how many there are in all.</summary>
public sealed record DeadLetterPage(IReadOnlyList<TaskSnapshot> Tasks, long Total);

/// <summary>
/// One page of <see cref="TaskQueueClient.ListTasksAsync"/>: the tasks (payload and result left out: use
/// <see cref="TaskQueueClient.GetAsync"/>) and the cursor of the next page, null when there is none.
/// </summary>
public sealed record TaskPage(IReadOnlyList<TaskSnapshot> Tasks, string? NextCursor);

/// <summary>The order of <see cref="TaskQueueClient.ListTasksAsync"/>.</summary>
public enum TaskListOrder
{
    /// <summary>Newest first: the latest to enter the state (for ready tasks, the reverse of the order they run in).</summary>
    NewestFirst,

    /// <summary>Oldest first (for ready tasks, the order they run in: highest priority first, first in first out).</summary>
    OldestFirst,
}
