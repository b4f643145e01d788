namespace TaskQueue.Client;

/// <summary>The id of a submitted task; <paramref name="Duplicate"/> when its idempotency key matched an earlier task.</summary>
public sealed record SubmitResult(string TaskId, bool Duplicate);

/// <summary>The state after a cancel: Cancelled when it was waiting, Leased with CancelRequested when its worker was told.</summary>
public sealed record CancelResult(TaskState State, bool CancelRequested);

/// <summary>One page of a queue's dead letters, and how many there are in all.</summary>
public sealed record DeadLetterPage(IReadOnlyList<TaskSnapshot> Tasks, long Total);
