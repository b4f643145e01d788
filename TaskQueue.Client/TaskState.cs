namespace TaskQueue.Client;

/// <summary>Where a task is in its life.</summary>
public enum TaskState
{
    /// <summary>Not reported by the broker (a newer state this client does not know).</summary>
    Unknown = 0,
    Ready,
    Scheduled,
    Leased,
    Completed,
    DeadLettered,
    Cancelled,
    Expired,
}

public static class TaskStateExtensions
{
    /// <summary>True for states a task never leaves (unless dead letters are replayed).</summary>
    public static bool IsFinal(this TaskState state) =>
        state is TaskState.Completed or TaskState.DeadLettered or TaskState.Cancelled or TaskState.Expired;
}
