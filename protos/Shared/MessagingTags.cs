namespace TaskQueue.Protocol;

/// <summary>
/// The span and metric tag names (OpenTelemetry messaging conventions, and taskqueue's own) that the broker,
/// the worker and the client put on their telemetry, so one dashboard query finds a task in all three. One
/// source file, compiled into each of them (protos/Shared).
/// </summary>
internal static class MessagingTags
{
    /// <summary>The value of <see cref="MessagingSystem"/>.</summary>
    public const string SystemName = "taskqueue";

    public const string MessagingSystem = "messaging.system";
    public const string MessagingOperationName = "messaging.operation.name";
    public const string MessagingOperationType = "messaging.operation.type";

    /// <summary>The pre-1.26 name of the operation (some backends still group by it).</summary>
    public const string MessagingOperationLegacy = "messaging.operation";

    public const string MessagingDestinationName = "messaging.destination.name";
    public const string MessagingMessageId = "messaging.message.id";
    public const string MessagingBatchMessageCount = "messaging.batch.message_count";
    public const string TaskType = "taskqueue.task.type";
    public const string TaskAttempt = "taskqueue.task.attempt";
    public const string TaskMaxAttempts = "taskqueue.task.max_attempts";
    public const string TaskOutcome = "taskqueue.task.outcome";
    public const string TaskError = "taskqueue.task.error";
    public const string TaskDuplicate = "taskqueue.task.duplicate";
    public const string WorkerId = "taskqueue.worker.id";
}
