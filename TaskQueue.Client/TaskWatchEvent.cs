namespace TaskQueue.Client;

/// <summary>What a <see cref="TaskWatchEvent"/> reports.</summary>
public enum TaskWatchEventKind
{
    /// <summary>The task as it was when the watch began (also the first event after the watch reconnected).</summary>
    Snapshot,

    /// <summary>Its state changed (or a new attempt started); a final state is the last event of the watch.</summary>
    StateChanged,

    /// <summary>Its running attempt reported progress (<see cref="TaskSnapshot.ProgressPercent"/>, <see cref="TaskSnapshot.ProgressMessage"/>).</summary>
    Progress,
}

/// <summary>
/// One event of <see cref="TaskQueueClient.WatchAsync"/>: what happened, and the task after it. The task leaves out
/// the payload, the result and the checkpoint (read them with <see cref="TaskQueueClient.GetAsync"/>).
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="Task">The task after the change.</param>
public sealed record TaskWatchEvent(TaskWatchEventKind Kind, TaskSnapshot Task);
