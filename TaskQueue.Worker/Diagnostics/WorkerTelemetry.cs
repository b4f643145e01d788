using System.Diagnostics;

namespace TaskQueue.Worker.Diagnostics;

/// <summary>Names of the worker's ActivitySource, Meter, instruments and attributes.</summary>
public static class WorkerTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "TaskQueue.Worker";

    public const string MessagingSystem = "messaging.system";
    public const string MessagingOperationType = "messaging.operation.type";
    public const string MessagingDestinationName = "messaging.destination.name";
    public const string MessagingMessageId = "messaging.message.id";
    public const string TaskType = "taskqueue.task.type";
    public const string TaskAttempt = "taskqueue.task.attempt";
    public const string WorkerId = "taskqueue.worker.id";
    public const string TaskOutcome = "taskqueue.task.outcome";

    public const string TasksProcessedInstrument = "taskqueue.worker.tasks.processed";
    /// <summary>The messaging conventions' processing duration: one handler run, by outcome.</summary>
    public const string TaskDurationInstrument = "messaging.process.duration";
    public const string BusySlotsInstrument = "taskqueue.worker.slots.busy";
    public const string ReconnectsInstrument = "taskqueue.worker.reconnects";

    internal static readonly ActivitySource ActivitySource = new(Name);
}

/// <summary>How one attempt ended, as recorded in spans and metrics.</summary>
public static class TaskOutcomes
{
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string TimedOut = "timed_out";
    public const string Cancelled = "cancelled";
    /// <summary>Handed back to the broker unfinished (drain, or no free slot).</summary>
    public const string Released = "released";
    /// <summary>The lease was lost: nothing reported.</summary>
    public const string Lost = "lost";
    public const string Rejected = "rejected";
}
