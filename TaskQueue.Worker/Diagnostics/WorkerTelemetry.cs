using System.Diagnostics;
using TaskQueue.Protocol;

namespace TaskQueue.Worker.Diagnostics;

/// <summary>Names of the worker's ActivitySource, Meter, instruments and attributes.</summary>
public static class WorkerTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "TaskQueue.Worker";

    /// <summary>OpenTelemetry messaging attribute: always "taskqueue".</summary>
    public const string MessagingSystem = MessagingTags.MessagingSystem;
    /// <summary>OpenTelemetry messaging attribute: "process" on the worker's spans.</summary>
    public const string MessagingOperationType = MessagingTags.MessagingOperationType;
    /// <summary>OpenTelemetry messaging attribute: the task's queue.</summary>
    public const string MessagingDestinationName = MessagingTags.MessagingDestinationName;
    /// <summary>OpenTelemetry messaging attribute: the task id.</summary>
    public const string MessagingMessageId = MessagingTags.MessagingMessageId;
    /// <summary>The task's type (the handler it ran on).</summary>
    public const string TaskType = MessagingTags.TaskType;
    /// <summary>The attempt number, from 1.</summary>
    public const string TaskAttempt = MessagingTags.TaskAttempt;
    /// <summary>The id of the worker that ran the attempt.</summary>
    public const string WorkerId = MessagingTags.WorkerId;
    /// <summary>How the attempt ended: one of <see cref="TaskOutcomes"/>.</summary>
    public const string TaskOutcome = MessagingTags.TaskOutcome;

    /// <summary>Counter of attempts processed, by queue, type and outcome.</summary>
    public const string TasksProcessedInstrument = "taskqueue.worker.tasks.processed";
    /// <summary>The messaging conventions' processing duration: one handler run, by outcome.</summary>
    public const string TaskDurationInstrument = "messaging.process.duration";
    /// <summary>Up-down counter of execution slots running a handler.</summary>
    public const string BusySlotsInstrument = "taskqueue.worker.slots.busy";
    /// <summary>Up-down counter of execution slots held by a handler whose lease was lost and that has not returned (not reused until it does).</summary>
    public const string StuckSlotsInstrument = "taskqueue.worker.slots.stuck";
    /// <summary>Counter of broker connections opened after the first one.</summary>
    public const string ReconnectsInstrument = "taskqueue.worker.reconnects";
    /// <summary>Counter of outcomes written that the broker could not settle before their lease ran out (Redis unreachable): the tasks run again.</summary>
    public const string OutcomesNotSettledInstrument = "taskqueue.worker.outcomes.not_settled";

    internal static readonly ActivitySource ActivitySource = new(Name);
}

/// <summary>How one attempt ended, as recorded in spans and metrics.</summary>
public static class TaskOutcomes
{
    /// <summary>The handler returned a result.</summary>
    public const string Completed = "completed";
    /// <summary>The handler threw; the broker retries unless the error was not retryable.</summary>
    public const string Failed = "failed";
    /// <summary>The task's execution timeout cancelled the handler.</summary>
    public const string TimedOut = "timed_out";
    /// <summary>The broker cancelled the task.</summary>
    public const string Cancelled = "cancelled";
    /// <summary>Handed back to the broker unfinished (drain, or no free slot).</summary>
    public const string Released = "released";
    /// <summary>The lease was lost: nothing reported.</summary>
    public const string Lost = "lost";
    /// <summary>No handler is registered for the task's type.</summary>
    public const string Rejected = "rejected";
}
