namespace TaskQueue.Worker.Diagnostics;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Worker {WorkerId} connecting to {BrokerAddress} (queues {Queues}, concurrency {Concurrency})")]
    public static partial void Connecting(ILogger logger, string workerId, Uri brokerAddress, string queues, int concurrency);

    [LoggerMessage(2, LogLevel.Information, "Connected to broker {BrokerId}: lease {LeaseDuration}, heartbeat {HeartbeatInterval}, {Reattached} task(s) re-attached, {Lost} lost")]
    public static partial void Connected(ILogger logger, string brokerId, TimeSpan leaseDuration, TimeSpan heartbeatInterval, int reattached, int lost);

    [LoggerMessage(3, LogLevel.Warning, "Broker connection ended ({Reason}); reconnecting in {Delay}")]
    public static partial void Reconnecting(ILogger logger, string reason, TimeSpan delay);

    [LoggerMessage(4, LogLevel.Warning, "Broker connection failed ({Error}); reconnecting in {Delay}")]
    public static partial void ConnectionFailed(ILogger logger, string error, TimeSpan delay);

    [LoggerMessage(6, LogLevel.Debug, "Broker connection failure details")]
    public static partial void ConnectionFailureDetails(ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Information, "Broker {BrokerId} is draining: keeping running tasks and reconnecting")]
    public static partial void BrokerDraining(ILogger logger, string brokerId);

    [LoggerMessage(10, LogLevel.Debug, "Task {TaskId} ({TaskType}, attempt {Attempt}) started")]
    public static partial void TaskStarted(ILogger logger, string taskId, string taskType, int attempt);

    [LoggerMessage(11, LogLevel.Debug, "Task {TaskId} ({TaskType}) completed in {Duration}")]
    public static partial void TaskCompleted(ILogger logger, string taskId, string taskType, TimeSpan duration);

    [LoggerMessage(12, LogLevel.Warning, "Task {TaskId} ({TaskType}, attempt {Attempt}) failed (retryable: {Retryable}): {Error}")]
    public static partial void TaskFailed(ILogger logger, string taskId, string taskType, int attempt, bool retryable, string error);

    [LoggerMessage(13, LogLevel.Warning, "Assignment of task {TaskId} refused ({Reason}): handing it back")]
    public static partial void AssignmentRefused(ILogger logger, string taskId, string reason);

    [LoggerMessage(14, LogLevel.Warning, "Task {TaskId} has type {TaskType}, which no handler is registered for")]
    public static partial void UnknownTaskType(ILogger logger, string taskId, string taskType);

    [LoggerMessage(15, LogLevel.Information, "Broker cancelled task {TaskId}")]
    public static partial void CancelRequested(ILogger logger, string taskId);

    [LoggerMessage(16, LogLevel.Warning, "Lease of task {TaskId} lost ({Reason}): stopping it, its outcome will not be reported")]
    public static partial void LeaseLost(ILogger logger, string taskId, string reason);

    [LoggerMessage(17, LogLevel.Information, "Task {TaskId} released to the broker unfinished")]
    public static partial void TaskReleased(ILogger logger, string taskId);

    [LoggerMessage(28, LogLevel.Warning, "The broker could not settle the outcome of task {TaskId} before its lease ran out (Redis unreachable): it did not count, the task will run again")]
    public static partial void OutcomeNotSettled(ILogger logger, string taskId);

    [LoggerMessage(18, LogLevel.Debug, "Broker message for unknown task {TaskId} ignored ({Kind})")]
    public static partial void UnknownTaskMessage(ILogger logger, string taskId, string kind);

    [LoggerMessage(20, LogLevel.Information, "Draining: {Running} task(s) running, waiting up to {DrainTimeout}")]
    public static partial void DrainStarted(ILogger logger, int running, TimeSpan drainTimeout);

    [LoggerMessage(21, LogLevel.Warning, "Drain timeout passed: releasing {Count} unfinished task(s) to the broker")]
    public static partial void DrainTimedOut(ILogger logger, int count);

    [LoggerMessage(22, LogLevel.Warning, "Could not deliver the final task outcomes to the broker within {Timeout}; their leases will expire and the tasks will be retried")]
    public static partial void FlushTimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(23, LogLevel.Information, "Worker stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(24, LogLevel.Warning, "Could not append task {TaskId} to the execution log")]
    public static partial void ExecutionLogFailed(ILogger logger, Exception exception, string taskId);

    [LoggerMessage(25, LogLevel.Warning, "Task {TaskId} lost its lease ({Reason}) but its handler has not returned: its slot stays stuck (not reused) until it does")]
    public static partial void SlotStuck(ILogger logger, string taskId, string reason);

    [LoggerMessage(26, LogLevel.Information, "The handler of task {TaskId} returned after its lease was lost: its slot is free again")]
    public static partial void SlotUnstuck(ILogger logger, string taskId);

    [LoggerMessage(27, LogLevel.Warning, "Task {TaskId} returned a result of {Size} bytes, over the broker's limit of {Limit} bytes: reported as a non-retryable failure")]
    public static partial void ResultTooLarge(ILogger logger, string taskId, int size, long limit);

    [LoggerMessage(29, LogLevel.Information, "Drained by an operator: taking no new tasks, {Running} task(s) running, releasing what still runs after {DrainTimeout}; staying connected")]
    public static partial void DrainedByOperator(ILogger logger, int running, TimeSpan drainTimeout);
}
