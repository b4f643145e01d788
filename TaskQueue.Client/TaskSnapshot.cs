using System.Text;

namespace TaskQueue.Client;

/// <summary>A task as the broker last saw it.</summary>
public sealed record TaskSnapshot
{
    /// <summary>The task's id, as <see cref="TaskQueueClient.SubmitAsync"/> returned it.</summary>
    public required string TaskId { get; init; }

    /// <summary>The queue it was submitted to.</summary>
    public required string Queue { get; init; }

    /// <summary>The task type: which worker handler runs it.</summary>
    public required string Type { get; init; }

    /// <summary>Where the task is in its life.</summary>
    public TaskState State { get; init; }

    /// <summary>Attempts started so far.</summary>
    public int Attempt { get; init; }

    /// <summary>Attempts allowed before it is dead-lettered.</summary>
    public int MaxAttempts { get; init; }

    /// <summary>0 (lowest) to 9 (highest).</summary>
    public int Priority { get; init; }

    /// <summary>The payload as submitted.</summary>
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>The handler's result, once completed.</summary>
    public ReadOnlyMemory<byte> Result { get; init; }

    /// <summary>The error of the last failed attempt, if any.</summary>
    public string? LastError { get; init; }

    /// <summary>The worker that holds or last held the task.</summary>
    public string? WorkerId { get; init; }

    /// <summary>True when a cancel was asked for while it ran, and its worker was told.</summary>
    public bool CancelRequested { get; init; }

    /// <summary>When the broker accepted it.</summary>
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>When its latest attempt started.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When it reached a final state.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>When a scheduled (delayed or retrying) task becomes ready.</summary>
    public DateTimeOffset? DueAt { get; init; }

    /// <summary>The last progress its running (or last) attempt reported, 0..100; null when none did.</summary>
    public int? ProgressPercent { get; init; }

    /// <summary>The status line reported with <see cref="ProgressPercent"/>, if any.</summary>
    public string? ProgressMessage { get; init; }

    /// <summary>When the broker stored <see cref="ProgressPercent"/>.</summary>
    public DateTimeOffset? ProgressAt { get; init; }

    /// <summary>The last checkpoint an attempt stored (the next attempt resumes from it); empty when none.</summary>
    public ReadOnlyMemory<byte> Checkpoint { get; init; }

    /// <summary>When the running attempt's lease ends unless its worker renews it; null when not leased.</summary>
    public DateTimeOffset? LeaseDeadline { get; init; }

    /// <summary>Its <see cref="TaskRequest.UniqueKey"/>, if it was given one.</summary>
    public string? UniqueKey { get; init; }

    /// <summary>Its <see cref="TaskRequest.DebounceKey"/>, if it was given one.</summary>
    public string? DebounceKey { get; init; }

    /// <summary>Its <see cref="TaskRequest.Group"/>, if it was given one.</summary>
    public string? Group { get; init; }

    /// <summary>The W3C traceparent of its submit (the trace its attempts' spans join); null when none.</summary>
    public string? TraceParent { get; init; }

    /// <summary>
    /// Its failed attempts, oldest first (the newest 20 at most), each with its error: filled by
    /// <see cref="TaskQueueClient.GetAsync"/> only (empty in lists and watch events).
    /// </summary>
    public IReadOnlyList<TaskAttemptRecord> Attempts { get; init; } = [];

    /// <summary>True when <see cref="State"/> is one the task never leaves (see <see cref="TaskStateExtensions.IsFinal"/>).</summary>
    public bool IsFinal => State.IsFinal();

    /// <summary>The payload decoded as UTF-8.</summary>
    public string PayloadText => Encoding.UTF8.GetString(Payload.Span);

    /// <summary>The result decoded as UTF-8.</summary>
    public string ResultText => Encoding.UTF8.GetString(Result.Span);
}

/// <summary>One failed attempt of a task (a failure report, an expired lease or an execution timeout).</summary>
/// <param name="Attempt">The attempt's number (1 = the first).</param>
/// <param name="Error">Its error, as the task's last error keeps it.</param>
/// <param name="WorkerId">The worker that held its lease; null when unknown.</param>
/// <param name="FinishedAt">When it ended.</param>
/// <param name="Outcome">What came of it: "reclaimed" (ready again at once after a lost lease), "retrying", "dead-lettered" or "cancelled".</param>
public sealed record TaskAttemptRecord(int Attempt, string Error, string? WorkerId, DateTimeOffset FinishedAt, string Outcome);
