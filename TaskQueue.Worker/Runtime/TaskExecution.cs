using TaskQueue.Protocol.V1;

namespace TaskQueue.Worker.Runtime;

/// <summary>Why a running task's token was cancelled; the first reason wins.</summary>
internal enum StopReason
{
    None = 0,
    CancelledByBroker,
    TimedOut,
    Draining,
    LeaseLost,
}

internal sealed record ProgressReport(int Percent, string? Message);

/// <summary>
/// One leased task on this worker, from assignment until its outcome is written to a broker stream
/// (it is listed in heartbeats and in the Hello of a reconnect until then).
/// </summary>
internal sealed class TaskExecution : IDisposable
{
    private const int Active = 0;
    private const int OutcomeClaimed = 1;
    private const int Discarded = 2;

    private readonly CancellationTokenSource _cancellation = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;
    private int _stopReason;
    private ProgressReport? _pendingProgress;

    public TaskExecution(TaskAssignment assignment)
    {
        TaskId = assignment.TaskId;
        LeaseToken = assignment.LeaseToken;
        Queue = assignment.Queue;
        Type = assignment.Type;
        Attempt = assignment.Attempt;
        ExecutionTimeout = assignment.ExecutionTimeout is { } timeout && timeout.ToTimeSpan() > TimeSpan.Zero
            ? timeout.ToTimeSpan()
            : null;
    }

    public string TaskId { get; }

    public string LeaseToken { get; }

    public string Queue { get; }

    public string Type { get; }

    public int Attempt { get; }

    public TimeSpan? ExecutionTimeout { get; }

    public CancellationToken Token => _cancellation.Token;

    public StopReason StopReason => (StopReason)Volatile.Read(ref _stopReason);

    public bool IsDiscarded => Volatile.Read(ref _state) == Discarded;

    public bool IsOutcomeDecided => Volatile.Read(ref _state) != Active;

    /// <summary>Completes when the handler has returned and its outcome (if any) is queued.</summary>
    public Task Finished => _finished.Task;

    public void Stop(StopReason reason)
    {
        Interlocked.CompareExchange(ref _stopReason, (int)reason, (int)StopReason.None);
        try
        {
            // Handler callbacks on the token run on the thread pool, not on the caller (the stream reader).
            _ = _cancellation.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The handler has already returned: nothing left to cancel.
        }
    }

    /// <summary>Exactly one outcome per execution: the handler's, a drain release, or none when discarded.</summary>
    public bool TryClaimOutcome() => Interlocked.CompareExchange(ref _state, OutcomeClaimed, Active) == Active;

    /// <summary>The lease is gone: whatever outcome comes (or is queued) must not be reported.</summary>
    public void Discard() => Interlocked.Exchange(ref _state, Discarded);

    public void MarkFinished() => _finished.TrySetResult();

    /// <summary>Keeps only the latest report; true when no earlier one is waiting, so a send must be queued.</summary>
    public bool SetProgress(ProgressReport report) => Interlocked.Exchange(ref _pendingProgress, report) is null;

    public ProgressReport? TakeProgress() => Interlocked.Exchange(ref _pendingProgress, null);

    /// <summary>Called once the handler has returned; a later Stop is a no-op.</summary>
    public void Dispose() => _cancellation.Dispose();

    public RunningTask ToRunningTask() => new() { TaskId = TaskId, LeaseToken = LeaseToken };
}
