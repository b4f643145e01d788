using System.Globalization;
using Google.Protobuf;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Worker.Diagnostics;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.Worker.Runtime;

/// <summary>How a handler's run ended: the outcome label, the message for the broker, and for a failure its description.</summary>
internal sealed record MappedOutcome(string Outcome, WorkerMessage Message, string? Error, bool Retryable)
{
    /// <summary>The handler's result was over the broker's limit: reported as a failure instead.</summary>
    public bool TooLarge { get; init; }
}

/// <summary>Builds the protobuf outcome messages the worker reports, and maps a handler's result or exception to one.</summary>
internal static class OutcomeMapper
{

    /// <summary>
    /// A result is a completion (a failure, not retryable, when it is over <paramref name="maxResultBytes"/>, the broker's
    /// limit; 0: none); an exception a failure, described by why the task's token was cancelled, if it was.
    /// </summary>
    public static MappedOutcome Map(TaskExecution execution, ReadOnlyMemory<byte> result, Exception? error, long maxResultBytes = 0)
    {
        if (error is null && maxResultBytes > 0 && result.Length > maxResultBytes)
        {
            var tooLarge = ProtocolLimits.ResultTooLarge(result.Length, maxResultBytes);
            return new MappedOutcome(TaskOutcomes.Failed, Failed(execution.TaskId, execution.LeaseToken, tooLarge, retryable: false), tooLarge, Retryable: false)
            {
                TooLarge = true,
            };
        }

        if (error is null)
        {
            var completed = new WorkerMessage
            {
                Completed = new TaskCompleted
                {
                    TaskId = execution.TaskId,
                    LeaseToken = execution.LeaseToken,
                    Result = ByteString.CopyFrom(result.Span),
                },
            };
            return new MappedOutcome(TaskOutcomes.Completed, completed, Error: null, Retryable: false);
        }

        var (outcome, description, retryable) = execution.StopReason switch
        {
            StopReason.CancelledByBroker => (TaskOutcomes.Cancelled, "cancelled", false),
            StopReason.TimedOut => (TaskOutcomes.TimedOut, $"execution timed out after {FormatDuration(execution.ExecutionTimeout)}", true),
            _ => (TaskOutcomes.Failed, Describe(error), error is not NonRetryableTaskException),
        };
        return new MappedOutcome(outcome, Failed(execution.TaskId, execution.LeaseToken, description, retryable), description, retryable);
    }

    public static WorkerMessage Released(string taskId, string leaseToken) =>
        new() { Released = new TaskReleased { TaskId = taskId, LeaseToken = leaseToken } };

    public static WorkerMessage Failed(string taskId, string leaseToken, string error, bool retryable) =>
        new() { Failed = new TaskFailed { TaskId = taskId, LeaseToken = leaseToken, Error = error, Retryable = retryable } };

    private static string Describe(Exception error)
    {
        var text = $"{error.GetType().FullName}: {error.Message}";
        return ProtocolLimits.TruncateError(text);
    }

    private static string FormatDuration(TimeSpan? duration) =>
        (duration ?? TimeSpan.Zero).TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
