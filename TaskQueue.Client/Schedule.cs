namespace TaskQueue.Client;

/// <summary>What a schedule's slot does while the previous run is not final (waiting or running).</summary>
public enum ScheduleOverlap
{
    /// <summary>Every slot creates its task (the default).</summary>
    Allow,

    /// <summary>A slot creates nothing while the previous run waits or runs.</summary>
    Skip,

    /// <summary>At most one run waits behind a running one: kept back until that run is final, then created.</summary>
    QueueOne,
}

/// <summary>Which missed slots run: slots further in the past than the broker's misfire threshold, e.g. after an outage.</summary>
public enum ScheduleCatchUp
{
    /// <summary>The latest missed slot runs once, standing for all of them (the default).</summary>
    One,

    /// <summary>No missed slot runs.</summary>
    Skip,

    /// <summary>Every missed slot runs, at most <see cref="ScheduleRequest.CatchUpMax"/> (the latest ones).</summary>
    All,
}

/// <summary>
/// A cron schedule to create or change (<see cref="TaskQueueClient.UpsertScheduleAsync"/>): at each slot of
/// <see cref="Cron"/> in <see cref="TimeZone"/> the broker creates one task of <see cref="Type"/> in <see cref="Queue"/>.
/// </summary>
public sealed record ScheduleRequest
{
    /// <summary>The queue the slots' tasks go to (the schedule lives with it).</summary>
    public required string Queue { get; init; }

    /// <summary>1 to 128 of A-Z a-z 0-9 . _ -, unique within the queue.</summary>
    public required string Name { get; init; }

    /// <summary>5 fields (minute hour day month weekday) or 6 with seconds first, e.g. "0 3 * * *" or "*/10 * * * * *".</summary>
    public required string Cron { get; init; }

    /// <summary>An IANA time zone id ("Europe/Berlin"); null or empty: UTC. Slots follow its wall clock across DST changes.</summary>
    public string? TimeZone { get; init; }

    /// <summary>The task type of the slots' tasks.</summary>
    public required string Type { get; init; }

    /// <summary>The payload of every slot's task.</summary>
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>0 (lowest, default) to 9.</summary>
    public int Priority { get; init; }

    /// <summary>Null: the broker's default.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>How long one attempt may run. Null: no limit.</summary>
    public TimeSpan? ExecutionTimeout { get; init; }

    /// <summary>Drop a slot's task if it has not started this long after its creation.</summary>
    public TimeSpan? ExpiresAfter { get; init; }

    /// <summary>
    /// The group of every slot's task (<see cref="TaskRequest.Group"/>: its round-robin lane within a priority level
    /// and the queue's group limits). Up to 128 printable characters; null or empty: no group.
    /// </summary>
    public string? Group { get; init; }

    /// <summary>What a slot does while the previous run is not final.</summary>
    public ScheduleOverlap Overlap { get; init; } = ScheduleOverlap.Allow;

    /// <summary>Which missed slots run after an outage.</summary>
    public ScheduleCatchUp CatchUp { get; init; } = ScheduleCatchUp.One;

    /// <summary>With <see cref="ScheduleCatchUp.All"/>: the most missed slots one catch-up runs (1 to 1000; null: 10).</summary>
    public int? CatchUpMax { get; init; }
}

/// <summary>A stored schedule: its definition and where it stands.</summary>
public sealed record ScheduleInfo
{
    /// <summary>The definition as stored (MaxAttempts resolved to the broker's default when none was given).</summary>
    public required ScheduleRequest Definition { get; init; }

    /// <summary>True while paused: no slot fires.</summary>
    public bool Paused { get; init; }

    /// <summary>The next slot; null while paused or when the expression names no later instant.</summary>
    public DateTimeOffset? NextRun { get; init; }

    /// <summary>The last slot handled (fired, kept back or skipped by the overlap policy).</summary>
    public DateTimeOffset? LastRun { get; init; }

    /// <summary>The last task the schedule created (a slot's or a trigger's).</summary>
    public string? LastTaskId { get; init; }

    /// <summary>That task's state now; null when it is gone (past its retention) or there is none.</summary>
    public TaskState? LastTaskState { get; init; }

    /// <summary>A slot kept back by <see cref="ScheduleOverlap.QueueOne"/> until the running run is final.</summary>
    public DateTimeOffset? BufferedRun { get; init; }

    /// <summary>Tasks created (slots and triggers).</summary>
    public long Fired { get; init; }

    /// <summary>Slots the overlap policy skipped.</summary>
    public long Skipped { get; init; }

    /// <summary>Missed slots the catch-up policy dropped.</summary>
    public long Missed { get; init; }

    /// <summary>Bumped by each change of the definition, pause and resume.</summary>
    public long Version { get; init; }

    /// <summary>When it was first stored.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Its last change (upsert, pause, resume).</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What an upsert did, and the schedule after it.</summary>
/// <param name="Schedule">The stored schedule.</param>
/// <param name="Created">True when it did not exist.</param>
/// <param name="Unchanged">True when the stored definition was the same: nothing changed.</param>
public sealed record ScheduleUpsertResult(ScheduleInfo Schedule, bool Created, bool Unchanged);
