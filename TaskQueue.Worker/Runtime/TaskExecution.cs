using System.Collections.Concurrent;
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

/// <summary>The broker's answer to a checkpoint: stored, or why not.</summary>
internal sealed record CheckpointAnswer(bool Accepted, string Reason);

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
    private long _checkpointSequence;
    private readonly ConcurrentDictionary<long, PendingCheckpoint> _checkpoints = new();

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
        PriorCheckpoint = assignment.Checkpoint.Memory;
    }

    /// <summary>The checkpoint an earlier attempt stored (the handler's TaskContext.Checkpoint); empty when none.</summary>
    public ReadOnlyMemory<byte> PriorCheckpoint { get; }

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

    /// <summary>A checkpoint to send (<paramref name="message"/> makes it for its sequence) and the answer to await (<see cref="CheckpointAnswered"/>).</summary>
    public (TaskCheckpoint Message, Task<CheckpointAnswer> Answer) BeginCheckpoint(Func<long, TaskCheckpoint> message)
    {
        var sequence = Interlocked.Increment(ref _checkpointSequence);
        var pending = new PendingCheckpoint(message(sequence));
        _checkpoints[sequence] = pending;
        return (pending.Message, pending.Answer.Task);
    }

    /// <summary>Checkpoints sent and not answered yet (re-sent on a new connection: storing one twice is harmless).</summary>
    public IEnumerable<TaskCheckpoint> UnansweredCheckpoints => _checkpoints.Values.Select(pending => pending.Message);

    public void CheckpointAnswered(long sequence, bool accepted, string reason)
    {
        if (_checkpoints.TryRemove(sequence, out var pending))
        {
            pending.Answer.TrySetResult(new CheckpointAnswer(accepted, reason));
        }
    }

    /// <summary>The attempt is over (lease lost, handed back): no checkpoint still waiting will be stored.</summary>
    public void RefuseCheckpoints(string reason)
    {
        foreach (var sequence in _checkpoints.Keys)
        {
            CheckpointAnswered(sequence, accepted: false, reason);
        }
    }

    /// <summary>Called once the handler has returned; a later Stop is a no-op.</summary>
    public void Dispose() => _cancellation.Dispose();

    public RunningTask ToRunningTask() => new() { TaskId = TaskId, LeaseToken = LeaseToken };

    private sealed record PendingCheckpoint(TaskCheckpoint Message)
    {
        public TaskCompletionSource<CheckpointAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
