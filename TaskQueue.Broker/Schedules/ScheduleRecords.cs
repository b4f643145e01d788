using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Schedules;

/// <summary>What a schedule does while its previous run is not final (waiting or running).</summary>
public enum OverlapPolicy
{
    /// <summary>Every slot creates its task, whatever the previous run does.</summary>
    Allow,

    /// <summary>A slot whose previous run is not final creates nothing (counted as skipped).</summary>
    Skip,

    /// <summary>
    /// At most one run waits behind a running one: a slot that finds the previous run running keeps its task back
    /// (buffered) and creates it once that run is final; a slot that finds a run waiting or buffered already is skipped.
    /// </summary>
    QueueOne,
}

/// <summary>What a schedule does with slots it missed (further in the past than the misfire threshold), e.g. after an outage.</summary>
public enum CatchUpPolicy
{
    /// <summary>No missed slot runs.</summary>
    Skip,

    /// <summary>The latest missed slot runs once, standing for all of them.</summary>
    One,

    /// <summary>Every missed slot runs, oldest first, at most <see cref="ScheduleDefinition.CatchUpMax"/> (the latest ones).</summary>
    All,
}

/// <summary>The task a schedule creates at each slot (a submit's fields that make sense for recurring work).</summary>
public sealed record ScheduleTemplate(string Type, ReadOnlyMemory<byte> Payload)
{
    /// <summary>0 (lowest, default) to 9.</summary>
    public int Priority { get; init; }

    /// <summary>Null: the store's default.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>How long one attempt may run. Null: no limit.</summary>
    public TimeSpan? ExecutionTimeout { get; init; }

    /// <summary>Drop the slot's task if it has not started this long after its creation. Null: never.</summary>
    public TimeSpan? ExpiresAfter { get; init; }

    /// <summary>The group of the slot's task (a task's group: its lane and the queue's group limits). Empty: none.</summary>
    public string Group { get; init; } = "";
}

/// <summary>A schedule as a caller defines it: where, when (cron in a time zone), what, and its policies.</summary>
public sealed record ScheduleDefinition(string Queue, string Name, string Cron, string TimeZone, ScheduleTemplate Template)
{
    public OverlapPolicy Overlap { get; init; } = OverlapPolicy.Allow;

    public CatchUpPolicy CatchUp { get; init; } = CatchUpPolicy.One;

    /// <summary>With <see cref="CatchUpPolicy.All"/>: the most missed slots one catch-up runs.</summary>
    public int CatchUpMax { get; init; } = ScheduleValidation.DefaultCatchUpMax;
}

/// <summary>A stored schedule: its definition and where it stands.</summary>
public sealed record ScheduleSnapshot(ScheduleDefinition Definition)
{
    /// <summary>Bumped by every change of the definition, a pause and a resume (the scheduler's compare-and-set).</summary>
    public long Version { get; init; }

    public bool Paused { get; init; }

    /// <summary>The next slot not yet handled; null while paused.</summary>
    public DateTimeOffset? NextRun { get; init; }

    /// <summary>The last slot that fired (created its task, or was kept back or skipped by the overlap policy).</summary>
    public DateTimeOffset? LastRun { get; init; }

    /// <summary>The last task the schedule created (a slot's or a trigger's), and its state now (null: gone past its retention).</summary>
    public TaskId? LastTaskId { get; init; }

    public TaskState? LastTaskState { get; init; }

    /// <summary>A slot kept back by <see cref="OverlapPolicy.QueueOne"/> until the running run is final.</summary>
    public DateTimeOffset? BufferedRun { get; init; }

    /// <summary>Tasks created (slots and triggers), slots skipped by the overlap policy, missed slots the catch-up policy dropped.</summary>
    public long Fired { get; init; }

    public long Skipped { get; init; }

    public long Missed { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What an upsert did.</summary>
public enum UpsertOutcome
{
    Created,
    Updated,

    /// <summary>The stored definition is the same: nothing changed (its next slot stands).</summary>
    Unchanged,
}

/// <summary>An upsert's outcome and the schedule after it.</summary>
public sealed record UpsertResult(UpsertOutcome Outcome, ScheduleSnapshot Schedule);
