using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Diagnostics;

/// <summary>
/// Every log line the broker writes, with its event id: 1–19 worker sessions, 20–29 dispatch and the
/// batchers, 30–39 pub/sub, 40–49 the reaper, 50–59 the promoter, 60–69 the gauges, 70–79 limits and
/// malformed input, 80–89 the audit trail, 220–239 flow control (pause, resume, limits). Never a payload, nor text a worker or client wrote that may quote one
/// (task errors stay on the task, for callers with read scope).
/// </summary>
internal static partial class Log
{
    // ---- worker sessions ----

    [LoggerMessage(1, LogLevel.Information, "Worker {WorkerId} connected: queues {Queues}, {Concurrency} slots, {Reattached} leases re-attached")]
    public static partial void WorkerConnected(ILogger logger, string workerId, IReadOnlyList<string> queues, int concurrency, int reattached);

    [LoggerMessage(2, LogLevel.Information, "Worker {WorkerId} disconnected ({Reason}); {Held} leases it held end after the grace")]
    public static partial void WorkerDisconnected(ILogger logger, string workerId, string reason, int held);

    [LoggerMessage(3, LogLevel.Information, "Worker {WorkerId} is draining with {Busy} tasks running")]
    public static partial void WorkerDraining(ILogger logger, string workerId, int busy);

    [LoggerMessage(4, LogLevel.Information, "Rejected a stale report from worker {WorkerId} for task {TaskId}")]
    public static partial void StaleReport(ILogger logger, string workerId, TaskId taskId);

    [LoggerMessage(5, LogLevel.Warning, "Renewing the leases of worker {WorkerId} failed (Redis unavailable); its next heartbeat tries again")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception, string workerId);

    [LoggerMessage(6, LogLevel.Warning, "Ending the session of worker {WorkerId} did not finish cleanly")]
    public static partial void SessionEndFailed(ILogger logger, Exception exception, string workerId);

    [LoggerMessage(7, LogLevel.Warning, "Worker {WorkerId} is quarantined until {Until}: its leases keep expiring without completions")]
    public static partial void WorkerQuarantined(ILogger logger, string workerId, DateTimeOffset until);

    [LoggerMessage(8, LogLevel.Warning, "Task {TaskId} on worker {WorkerId} ran past its execution timeout and the grace: its lease was not renewed, the attempt failed, and its slot counts as stuck until the handler returns")]
    public static partial void ExecutionTimedOut(ILogger logger, string workerId, TaskId taskId);

    // ---- dispatch and the batchers ----

    [LoggerMessage(20, LogLevel.Warning, "Dispatching queue {Queue} failed; retrying")]
    public static partial void DispatchFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(21, LogLevel.Warning, "Settling {Count} reports on queue {Queue} failed (not an outage: not tried again); their workers are told the leases are lost, which stay until they expire")]
    public static partial void SettleFailed(ILogger logger, Exception exception, string queue, int count);

    [LoggerMessage(24, LogLevel.Warning, "Redis could not take {Count} reports on queue {Queue} ({Error}, try {Tries}): trying again in {DelayMs} ms, until their leases would run out")]
    public static partial void SettleRetrying(ILogger logger, string error, string queue, int count, int tries, double delayMs);

    [LoggerMessage(25, LogLevel.Error, "{Count} reports on queue {Queue} could not be settled before their leases ran out ({Tries} tries, Redis unreachable): their workers are told the leases are lost, the tasks run again")]
    public static partial void SettleGivenUp(ILogger logger, Exception exception, string queue, int count, int tries);

    [LoggerMessage(26, LogLevel.Warning, "{Count} unsettled reports on queue {Queue} cannot wait for another try: {Pending} already wait (TaskQueue:Broker:SettleRetryMaxPending)")]
    public static partial void SettleRetryFull(ILogger logger, string queue, int count, int pending);

    // The worker's error text is not logged: handlers may quote their payload in it. It is kept on the task.
    [LoggerMessage(22, LogLevel.Warning, "Task {TaskId} ({TaskType}) on queue {Queue} was dead-lettered after attempt {Attempt}: its error ({ErrorLength} characters) is kept on the task, not logged")]
    public static partial void DeadLettered(ILogger logger, string taskId, string taskType, string queue, int attempt, int errorLength);

    [LoggerMessage(23, LogLevel.Debug, "Enqueueing {Count} coalesced submits on queue {Queue} failed; each caller gets the error")]
    public static partial void EnqueueFailed(ILogger logger, Exception exception, string queue, int count);

    [LoggerMessage(28, LogLevel.Warning, "Storing {Count} progress reports on queue {Queue} failed (Redis unavailable); later reports carry the progress on")]
    public static partial void ProgressFailed(ILogger logger, Exception exception, string queue, int count);

    [LoggerMessage(29, LogLevel.Warning, "Storing a checkpoint ({Bytes} bytes) of task {TaskId} failed (Redis unavailable); its worker was told it is not stored")]
    public static partial void CheckpointFailed(ILogger logger, Exception exception, string taskId, int bytes);

    // ---- pub/sub ----

    [LoggerMessage(30, LogLevel.Debug, "Publishing a ready wake-up for queue {Queue} failed")]
    public static partial void PublishReadyFailed(ILogger logger, Exception exception, string queue);

    // ---- the reaper ----

    [LoggerMessage(40, LogLevel.Information, "Reaped {Count} expired leases in queue {Queue}")]
    public static partial void Reaped(ILogger logger, int count, string queue);

    [LoggerMessage(41, LogLevel.Warning, "Task {TaskId} ({TaskType}) on queue {Queue} was dead-lettered after attempt {Attempt}: its lease on worker {WorkerId} expired")]
    public static partial void LeaseDeadLettered(ILogger logger, string taskId, string taskType, string queue, int attempt, string workerId);

    [LoggerMessage(42, LogLevel.Warning, "Redis did not answer the reaper for {StuckFor}: leases that expire until every worker has heartbeated again do not count towards quarantine")]
    public static partial void RedisOutage(ILogger logger, TimeSpan stuckFor);

    [LoggerMessage(43, LogLevel.Warning, "Reaping failed; retrying on the next tick")]
    public static partial void ReapFailed(ILogger logger, Exception exception);

    [LoggerMessage(44, LogLevel.Information, "Marked {Count} registered queues due for a first visit (the due index at start)")]
    public static partial void DueIndexSeeded(ILogger logger, long count);

    // ---- the promoter ----

    [LoggerMessage(50, LogLevel.Warning, "Promoting scheduled work failed; retrying shortly")]
    public static partial void PromoteFailed(ILogger logger, Exception exception);

    // ---- the gauges ----

    [LoggerMessage(60, LogLevel.Debug, "Reading the queue and worker gauges from Redis failed")]
    public static partial void GaugesRefreshFailed(ILogger logger, Exception exception);

    // ---- limits and malformed input ----

    [LoggerMessage(70, LogLevel.Warning, "A request to {Method} on connection {ConnectionId} is not valid protobuf: answered INVALID_ARGUMENT (logged once per connection)")]
    public static partial void MalformedRequest(ILogger logger, string method, string connectionId);

    [LoggerMessage(71, LogLevel.Warning, "Worker {WorkerId} listed {Running} running and {Stuck} stuck tasks in a heartbeat with {Concurrency} slots: refused (INVALID_ARGUMENT), nothing renewed, its stream ends")]
    public static partial void HeartbeatOverConcurrency(ILogger logger, string workerId, int running, int stuck, int concurrency);

    // ---- the audit trail ----

    [LoggerMessage(80, LogLevel.Information, "Audit: {Identity} {Action} on queue {Queue} ({Target}): {Outcome}")]
    public static partial void AdminAction(ILogger logger, string identity, string action, string queue, string target, string outcome);

    [LoggerMessage(81, LogLevel.Warning, "Appending {Action} by {Identity} to the audit trail failed (Redis unavailable); the action's own result stands")]
    public static partial void AuditWriteFailed(ILogger logger, Exception exception, string action, string identity);

    // ---- schedules ----

    [LoggerMessage(200, LogLevel.Warning, "The scheduler's pass failed (Redis unavailable?); it tries again after its sleep")]
    public static partial void SchedulerFailed(ILogger logger, Exception exception);

    [LoggerMessage(201, LogLevel.Warning, "Visiting the due schedules of queue {Queue} failed; the next pass tries again")]
    public static partial void ScheduleVisitFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(202, LogLevel.Debug, "Schedule {Schedule} of queue {Queue}: {Fired} tasks created, {Skipped} slots skipped (overlap), {Dropped} missed slots dropped (catch-up)")]
    public static partial void ScheduleFired(ILogger logger, string queue, string schedule, int fired, int skipped, long dropped);

    [LoggerMessage(203, LogLevel.Warning, "Schedule {Schedule} of queue {Queue} cannot be planned on this broker: {Problem}")]
    public static partial void ScheduleUnplannable(ILogger logger, string queue, string schedule, string problem);

    [LoggerMessage(204, LogLevel.Warning, "Schedule {Schedule} could not fire: its queue {Queue} could not be registered again ({Problem})")]
    public static partial void ScheduleQueueRefused(ILogger logger, string queue, string schedule, string problem);
    // ---- flow control ----

    [LoggerMessage(220, LogLevel.Information, "Queue {Queue} paused by {Identity}: it dispatches nothing until it resumes")]
    public static partial void QueuePaused(ILogger logger, string queue, string identity);

    [LoggerMessage(221, LogLevel.Information, "Queue {Queue} resumed by {Identity}")]
    public static partial void QueueResumed(ILogger logger, string queue, string identity);

    [LoggerMessage(222, LogLevel.Information, "Queue {Queue}'s limits set by {Identity}: {Limits}")]
    public static partial void QueueLimitsSet(ILogger logger, string queue, string identity, string limits);

    [LoggerMessage(223, LogLevel.Information, "Queue {Queue}'s limits of group {Group} set by {Identity}: {Limits}")]
    public static partial void GroupLimitsSet(ILogger logger, string queue, string group, string identity, string limits);

    [LoggerMessage(224, LogLevel.Information, "Queue {Queue}'s limits of group {Group} cleared by {Identity}")]
    public static partial void GroupLimitsCleared(ILogger logger, string queue, string group, string identity);

    [LoggerMessage(240, LogLevel.Warning, "{Operation} of {Count} tasks on queue {Queue} stored on the primary but acknowledged by {Acks} replicas within {TimeoutMs} ms: not answered OK")]
    public static partial void ReplicaAcksShort(ILogger logger, string operation, int count, string queue, string acks, double timeoutMs);

    [LoggerMessage(241, LogLevel.Information, "Submits and completions wait for {Replicas} replicas (TaskQueue:Store:AckReplicas), at most {TimeoutMs} ms each")]
    public static partial void ReplicaAcksOn(ILogger logger, int replicas, double timeoutMs);

    [LoggerMessage(242, LogLevel.Information, "Worker {WorkerId} drained by an operator with {Busy} tasks running: it gets no new work")]
    public static partial void WorkerDrainedByOperator(ILogger logger, string workerId, int busy);

    [LoggerMessage(243, LogLevel.Warning, "Could not publish the drain of worker {WorkerId}: its broker drains it at its next heartbeat, from the registry")]
    public static partial void PublishDrainFailed(ILogger logger, Exception exception, string workerId);
}
