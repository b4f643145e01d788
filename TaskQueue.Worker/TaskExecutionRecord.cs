namespace TaskQueue.Worker;

/// <summary>
/// One line of the execution log (<see cref="WorkerOptions.ExecutionLog"/>): a handler started, or ended, one
/// attempt of a task on this worker. <see cref="Outcome"/> is set on "end" lines only (see TaskOutcomes).
/// </summary>
/// <param name="Event"><see cref="Start"/> or <see cref="End"/>.</param>
/// <param name="TaskId">The task's id.</param>
/// <param name="Attempt">The attempt's number, 1 for the first.</param>
/// <param name="WorkerId">The worker that ran it (<see cref="WorkerOptions.WorkerId"/>).</param>
/// <param name="ProcessId">The worker's process id.</param>
/// <param name="LeaseToken">The lease the attempt ran under.</param>
/// <param name="At">When the handler started or ended.</param>
/// <param name="Outcome">How the attempt ended ("completed", "failed", ...); null on start lines.</param>
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
    /// <summary>The <see cref="Event"/> of a line written when a handler starts an attempt.</summary>
    public const string Start = "start";

    /// <summary>The <see cref="Event"/> of a line written when a handler ends an attempt.</summary>
    public const string End = "end";
}
