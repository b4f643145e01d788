namespace TaskQueue.Broker.Audit;

/// <summary>The admin actions the trail records, as the entries name them.</summary>
public static class AuditActions
{
    public const string Cancel = "cancel";
    public const string ReplayDeadLetters = "dead-letters.replay";
    public const string PurgeDeadLetters = "dead-letters.purge";
    public const string UpsertSchedule = "schedule.upsert";
    public const string DeleteSchedule = "schedule.delete";
    public const string PauseSchedule = "schedule.pause";
    public const string ResumeSchedule = "schedule.resume";
    public const string TriggerSchedule = "schedule.trigger";
    public const string PauseQueue = "queue.pause";
    public const string ResumeQueue = "queue.resume";
    public const string SetQueueLimits = "queue.limits";
    public const string SetGroupLimits = "queue.group-limits";
    public const string ClearGroupLimits = "queue.group-limits.clear";
    public const string DrainWorker = "worker.drain";
}

/// <summary>Field names of an entry in the audit stream (<c>tq:audit</c>).</summary>
internal static class AuditFields
{
    public const string Identity = "identity";
    public const string Action = "action";
    public const string Queue = "queue";
    public const string Target = "target";
    public const string Outcome = "outcome";
}

/// <summary>
/// An admin action about to be recorded: who, what, on which queue and task(s), with what result. An action on a worker
/// names the worker's queues, comma-separated (<see cref="Queues"/>).
/// </summary>
public sealed record AuditRecord(string Identity, string Action, string Queue, string Target, string Outcome)
{
    /// <summary>The queues an entry's queue field names: one, or a worker's several.</summary>
    public static string[] Queues(string queue) => queue.Split(',', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>A recorded action; <paramref name="Id"/> is its stream entry id, <paramref name="Time"/> Redis's clock when it was added.</summary>
public sealed record AuditEntryRecord(string Id, DateTimeOffset Time, AuditRecord Record);

/// <summary>One page of the trail, newest first, and the cursor of the next (older) page, if any.</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntryRecord> Entries, string? NextBefore);
