using System.Diagnostics;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Worker.Diagnostics;

/// <summary>
/// The consumer span of one attempt, "process {queue}", a child of the trace context the task was submitted
/// with (or the root of its own trace when none came).
/// </summary>
internal static class ProcessSpan
{
    public static Activity? Start(TaskAssignment assignment, string workerId)
    {
        ActivityContext.TryParse(assignment.TraceParent, assignment.TraceState, isRemote: true, out var parent);
        var activity = WorkerTelemetry.ActivitySource.StartActivity($"process {assignment.Queue}", ActivityKind.Consumer, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(WorkerTelemetry.MessagingSystem, MessagingTags.SystemName);
            activity.SetTag(WorkerTelemetry.MessagingOperationType, "process");
            // The older attribute: the Aspire dashboard labels Consumer spans "MSG <system> <operation> <queue>" by it.
            activity.SetTag(MessagingTags.MessagingOperationLegacy, "process");
            activity.SetTag(WorkerTelemetry.MessagingDestinationName, assignment.Queue);
            activity.SetTag(WorkerTelemetry.MessagingMessageId, assignment.TaskId);
            activity.SetTag(WorkerTelemetry.TaskType, assignment.Type);
            activity.SetTag(WorkerTelemetry.TaskAttempt, assignment.Attempt);
            activity.SetTag(WorkerTelemetry.WorkerId, workerId);
        }

        return activity;
    }

    /// <summary>Tags the outcome; a reported failure (<paramref name="error"/>) also sets the error status and records the exception.</summary>
    public static void End(Activity? activity, string outcome, string? error, Exception? exception)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag(WorkerTelemetry.TaskOutcome, outcome);
        if (error is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, error);
            if (exception is not null)
            {
                activity.AddException(exception);
            }
        }
    }
}
