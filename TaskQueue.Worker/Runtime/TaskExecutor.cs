using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Worker.Diagnostics;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// Runs assignments on handlers within the concurrency limit and queues exactly one outcome per execution
/// (or none when its lease is lost). A handler that lost its lease and has not returned keeps its slot, marked
/// stuck (listed in heartbeats, not reused) until it does; one whose attempt the broker timed out then sends its
/// late outcome, which the broker rejects as stale and takes as the sign that the slot is free.
/// </summary>
internal sealed class TaskExecutor(
    HandlerCatalog handlers,
    OutboundQueue outbound,
    IServiceScopeFactory scopeFactory,
    IOptions<WorkerOptions> options,
    WorkerMetrics metrics,
    ExecutionLog executionLog,
    TimeProvider timeProvider,
    ILogger<TaskExecutor> logger)
{
    private readonly WorkerOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, TaskExecution> _tasks = new(StringComparer.Ordinal);

    // Guards the slot count and the draining flag, and orders outcome claims against the shutdown flush.
    private readonly Lock _gate = new();
    private int _busy;
    private bool _draining;

    // Handlers that have not returned yet, and those of them whose lease is lost (value: send the late outcome).
    private readonly HashSet<TaskExecution> _handlersRunning = [];
    private readonly ConcurrentDictionary<TaskExecution, bool> _stuck = new();
    private long _maxResultBytes;

    public IReadOnlyList<string> TaskTypes => handlers.TaskTypes;

    public bool IsDraining
    {
        get
        {
            lock (_gate)
            {
                return _draining;
            }
        }
    }

    /// <summary>Leases this worker holds: running, or finished with the outcome not yet written.</summary>
    public List<RunningTask> SnapshotLeases() =>
        [.. _tasks.Values.Where(task => !task.IsDiscarded).Select(task => task.ToRunningTask())];

    /// <summary>Tasks whose lease was lost while their handler still runs (Heartbeat.stuck_task_ids).</summary>
    public List<string> SnapshotStuck() => [.. _stuck.Keys.Select(task => task.TaskId).Distinct(StringComparer.Ordinal)];

    /// <summary>The broker's Welcome stated its result limit: a larger result is reported as a failure, never sent (0: none stated).</summary>
    public void SetResultLimit(long maxResultBytes) => Interlocked.Exchange(ref _maxResultBytes, maxResultBytes);

    public void OnAssignment(TaskAssignment assignment)
    {
        string? refusal = null;
        TaskExecution? execution = null;
        TaskExecution? superseded = null;
        Type? handlerType = null;
        lock (_gate)
        {
            if (_tasks.TryGetValue(assignment.TaskId, out var existing))
            {
                if (existing.LeaseToken == assignment.LeaseToken)
                {
                    // A repeated delivery of the attempt already running here.
                    Log.UnknownTaskMessage(logger, assignment.TaskId, "duplicate assignment");
                    return;
                }

                // A new lease means the old one is gone; the old attempt may still hold a slot, so hand this back.
                superseded = existing;
                refusal = "an older attempt is still running here";
            }
            else if (_draining)
            {
                refusal = "worker draining";
            }
            else if (_busy >= _options.Concurrency)
            {
                refusal = "no free slot";
            }
            else if (handlers.TryGetHandlerType(assignment.Type, out handlerType))
            {
                _busy++;
                execution = new TaskExecution(assignment);
                _tasks[assignment.TaskId] = execution;
                _handlersRunning.Add(execution);
            }
        }

        if (superseded is not null)
        {
            OnLeaseLost(superseded.TaskId, superseded.LeaseToken, "superseded by a new lease");
        }

        if (refusal is not null)
        {
            Log.AssignmentRefused(logger, assignment.TaskId, refusal);
            metrics.TaskProcessed(assignment.Queue, assignment.Type, TaskOutcomes.Released, duration: null);
            outbound.Enqueue(new OutcomeItem(OutcomeMapper.Released(assignment.TaskId, assignment.LeaseToken), Execution: null));
            return;
        }

        if (execution is null || handlerType is null)
        {
            Log.UnknownTaskType(logger, assignment.TaskId, assignment.Type);
            metrics.TaskProcessed(assignment.Queue, assignment.Type, TaskOutcomes.Rejected, duration: null);
            var failed = OutcomeMapper.Failed(assignment.TaskId, assignment.LeaseToken, $"no handler registered for type {assignment.Type}", retryable: false);
            outbound.Enqueue(new OutcomeItem(failed, Execution: null));
            return;
        }

        metrics.SlotTaken();
        // Handlers must not inherit the stream reader's ambient state (its Activity above all).
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(() => RunAsync(execution, handlerType, assignment));
        }
    }

    public void OnCancel(string taskId)
    {
        if (_tasks.TryGetValue(taskId, out var execution))
        {
            Log.CancelRequested(logger, taskId);
            execution.Stop(StopReason.CancelledByBroker);
        }
        else
        {
            Log.UnknownTaskMessage(logger, taskId, "cancel");
        }
    }

    /// <summary>
    /// The broker says the lease <paramref name="token"/> of the task is lost: its run stops and reports nothing. News
    /// of an older lease than the one this worker runs the task under now (the broker answered a heartbeat sent before
    /// the task was reclaimed and handed here again) is ignored; an empty token means whichever lease runs here.
    /// </summary>
    public void OnLeaseLost(string taskId, string token, string reason)
    {
        if (_tasks.TryGetValue(taskId, out var execution) && token.Length > 0 && execution.LeaseToken != token)
        {
            Log.UnknownTaskMessage(logger, taskId, "lease lost, of an older lease");
        }
        else if (_tasks.TryGetValue(taskId, out execution))
        {
            Log.LeaseLost(logger, taskId, reason);
            execution.Discard();
            execution.RefuseCheckpoints($"the lease was lost ({reason}): the checkpoint was not stored");
            _tasks.TryRemove(KeyValuePair.Create(taskId, execution));
            MarkStuck(execution, reason);
            execution.Stop(StopReason.LeaseLost);
        }
        else if (reason == LeaseLostReasons.NotSettled)
        {
            // The outcome was written and the broker tried until the lease ran out: it did not count.
            metrics.OutcomeNotSettled();
            Log.OutcomeNotSettled(logger, taskId);
        }
        else
        {
            Log.UnknownTaskMessage(logger, taskId, "lease lost");
        }
    }

    /// <summary>The handler still runs: its slot stays taken (and listed as stuck) until it returns.</summary>
    private void MarkStuck(TaskExecution execution, string reason)
    {
        lock (_gate)
        {
            if (_handlersRunning.Contains(execution) && _stuck.TryAdd(execution, reason == LeaseLostReasons.Timeout))
            {
                metrics.SlotStuck();
                Log.SlotStuck(logger, execution.TaskId, reason);
            }
        }
    }

    /// <summary>The broker answered a checkpoint.</summary>
    public void OnCheckpointSaved(CheckpointSaved saved)
    {
        if (_tasks.TryGetValue(saved.TaskId, out var execution))
        {
            execution.CheckpointAnswered(saved.Sequence, saved.Accepted, saved.Reason);
        }
        else
        {
            Log.UnknownTaskMessage(logger, saved.TaskId, "checkpoint saved");
        }
    }

    /// <summary>A new connection: sends again the checkpoints the last one may have lost before their answers came.</summary>
    public void ResendCheckpoints()
    {
        foreach (var execution in _tasks.Values.Where(task => !task.IsOutcomeDecided))
        {
            foreach (var checkpoint in execution.UnansweredCheckpoints)
            {
                outbound.Enqueue(new CheckpointItem(execution, checkpoint));
            }
        }
    }

    /// <summary>The outcome reached a broker stream: the lease is no longer ours to renew.</summary>
    public void OnOutcomeWritten(TaskExecution execution) =>
        _tasks.TryRemove(KeyValuePair.Create(execution.TaskId, execution));

    /// <summary>An outcome may not have reached the broker: hold the lease again until it is re-sent.</summary>
    public void Reattach(TaskExecution execution)
    {
        if (!execution.IsDiscarded)
        {
            _tasks.TryAdd(execution.TaskId, execution);
        }
    }

    /// <summary>No more assignments from now on; returns how many handlers are still running.</summary>
    public int BeginDrain()
    {
        lock (_gate)
        {
            _draining = true;
            return _busy;
        }
    }

    /// <summary>Waits until no handler is running; false when the timeout passed first.</summary>
    public async Task<bool> WaitForIdleAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = timeProvider.GetTimestamp();
        while (true)
        {
            var running = _tasks.Values.Select(task => task.Finished).Where(finished => !finished.IsCompleted).ToArray();
            if (running.Length == 0)
            {
                return true;
            }

            var remaining = timeout - timeProvider.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await Task.WhenAll(running).WaitAsync(remaining, timeProvider, cancellationToken);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Hands every still-running task back (TaskReleased) and cancels it, then queues the close marker (none for an
    /// operator's drain, which keeps the stream open). Under the gate, so no handler's outcome can be queued after the marker.
    /// </summary>
    public int ReleaseRemaining(CloseItem? close)
    {
        var released = 0;
        lock (_gate)
        {
            foreach (var execution in _tasks.Values.Where(task => !task.Finished.IsCompleted))
            {
                if (execution.TryClaimOutcome())
                {
                    outbound.Enqueue(new OutcomeItem(OutcomeMapper.Released(execution.TaskId, execution.LeaseToken), execution));
                    execution.Stop(StopReason.Draining);
                    Log.TaskReleased(logger, execution.TaskId);
                    released++;
                }
            }

            if (close is not null)
            {
                outbound.Enqueue(close);
            }
        }

        return released;
    }

    private async Task RunAsync(TaskExecution execution, Type handlerType, TaskAssignment assignment)
    {
        var started = timeProvider.GetTimestamp();
        using var activity = ProcessSpan.Start(assignment, _options.WorkerId);
        Log.TaskStarted(logger, execution.TaskId, execution.Type, execution.Attempt);
        executionLog.Started(execution);

        var result = ReadOnlyMemory<byte>.Empty;
        Exception? error = null;
        try
        {
            using var timeout = execution.ExecutionTimeout is { } limit
                ? new CancellationTokenSource(limit, timeProvider)
                : null;
            using var timeoutRegistration = timeout?.Token.Register(() => execution.Stop(StopReason.TimedOut));

            await using var scope = scopeFactory.CreateAsyncScope();
            var handler = (ITaskHandler)scope.ServiceProvider.GetRequiredService(handlerType);
            var context = new TaskContext(
                execution.TaskId,
                execution.Queue,
                execution.Type,
                assignment.Payload.Memory,
                execution.Attempt,
                assignment.MaxAttempts,
                (percent, message, _) => ReportProgress(execution, percent, message),
                execution.PriorCheckpoint,
                (state, percent, message, token) => TaskCheckpoints.SaveAsync(execution, outbound, timeProvider, state, percent, message, token));
            result = await handler.HandleAsync(context, execution.Token);
        }
        catch (Exception ex)
        {
            error = ex;
        }

        var duration = timeProvider.GetElapsedTime(started);
        var (outcome, description, retryable) = Conclude(execution, result, error);
        executionLog.Ended(execution, outcome);
        metrics.SlotFreed();
        execution.MarkFinished();
        execution.Dispose();

        metrics.TaskProcessed(execution.Queue, execution.Type, outcome, duration);
        ProcessSpan.End(activity, outcome, description, error);
        if (outcome == TaskOutcomes.Completed)
        {
            Log.TaskCompleted(logger, execution.TaskId, execution.Type, duration);
        }
        else if (description is not null)
        {
            Log.TaskFailed(logger, execution.TaskId, execution.Type, execution.Attempt, retryable, description);
        }
    }

    /// <summary>Frees the slot and queues the outcome; returns the outcome label and, for failures, the error.</summary>
    private (string Outcome, string? Error, bool Retryable) Conclude(TaskExecution execution, ReadOnlyMemory<byte> result, Exception? error)
    {
        lock (_gate)
        {
            // The slot frees before the outcome is queued: the broker may answer it with new work at once.
            _busy--;
            _handlersRunning.Remove(execution);
            if (_stuck.TryRemove(execution, out var reportLate))
            {
                metrics.SlotUnstuck();
                Log.SlotUnstuck(logger, execution.TaskId);
                if (reportLate)
                {
                    // Held by no lease and never re-sent: the broker rejects it as stale and frees the slot's credit.
                    outbound.Enqueue(new OutcomeItem(OutcomeMapper.Map(execution, result, error, MaxResultBytes).Message, Execution: null));
                }
            }

            if (!execution.TryClaimOutcome())
            {
                return (execution.IsDiscarded ? TaskOutcomes.Lost : TaskOutcomes.Released, null, false);
            }

            var mapped = OutcomeMapper.Map(execution, result, error, MaxResultBytes);
            if (mapped.TooLarge)
            {
                Log.ResultTooLarge(logger, execution.TaskId, result.Length, MaxResultBytes);
            }

            outbound.Enqueue(new OutcomeItem(mapped.Message, execution));
            return (mapped.Outcome, mapped.Error, mapped.Retryable);
        }
    }

    private long MaxResultBytes => Interlocked.Read(ref _maxResultBytes);

    private ValueTask ReportProgress(TaskExecution execution, int percent, string? message)
    {
        if (!execution.IsOutcomeDecided && execution.SetProgress(new ProgressReport(percent, message)))
        {
            outbound.Enqueue(new ProgressItem(execution));
        }

        return ValueTask.CompletedTask;
    }
}
