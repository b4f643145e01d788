namespace TaskQueue.Client;

/// <summary>Where a task is in its life.</summary>
public enum TaskState
{
    /// <summary>Not reported by the broker (a newer state this client does not know).</summary>
    Unknown = 0,

    /// <summary>Waiting in its queue for a worker.</summary>
    Ready,

    /// <summary>Waiting for its time: delayed, or retrying after a failure (see <see cref="TaskSnapshot.DueAt"/>).</summary>
    Scheduled,

    /// <summary>Running: a worker holds its lease.</summary>
    Leased,

    /// <summary>Final: the handler succeeded (see <see cref="TaskSnapshot.Result"/>).</summary>
    Completed,

    /// <summary>Final: every attempt failed; the task is in its queue's dead-letter queue and can be replayed.</summary>
    DeadLettered,

    /// <summary>Final: cancelled before or while it ran.</summary>
    Cancelled,

    /// <summary>Final: it did not start within its <see cref="TaskRequest.ExpiresAfter"/>.</summary>
    Expired,
}

/// <summary>Questions about a <see cref="TaskState"/>.</summary>
public static class TaskStateExtensions
{
    /// <summary>True for states a task never leaves (unless dead letters are replayed).</summary>
    public static bool IsFinal(this TaskState state) =>
        state is TaskState.Completed or TaskState.DeadLettered or TaskState.Cancelled or TaskState.Expired;
}
