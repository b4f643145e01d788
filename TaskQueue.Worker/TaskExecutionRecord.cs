namespace TaskQueue.Worker;

/// <summary>
/// One line of the execution log (<see cref="WorkerOptions.ExecutionLog"/>): a handler started, or ended, one
/// attempt of a task on this worker. <see cref="Outcome"/> is set on "end" lines only (see TaskOutcomes).
/// </summary>
public sealed record TaskExecutionRecord(
    string Event,
    string TaskId,
    int Attempt,
    string WorkerId,
    int ProcessId,
    string LeaseToken,
    DateTimeOffset At,
    string? Outcome = null)
{
    public const string Start = "start";
    public const string End = "end";
}
