using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TaskQueue.Client.Diagnostics;

/// <summary>The client's ActivitySource and Meter, both named "TaskQueue.Client".</summary>
public static class ClientTelemetry
{
    /// <summary>The name of the ActivitySource and of the Meter: add it to OpenTelemetry's tracing and metrics.</summary>
    public const string Name = "TaskQueue.Client";

    /// <summary>The messaging conventions' count of messages a producer sent.</summary>
    public const string TasksSubmittedInstrument = "messaging.client.sent.messages";

    internal const string MessagingSystem = "messaging.system";
    internal const string MessagingOperationType = "messaging.operation.type";
    internal const string MessagingOperationName = "messaging.operation.name";

    /// <summary>The older attribute: the Aspire dashboard labels Producer spans "MSG &lt;system&gt; &lt;operation&gt; &lt;queue&gt;" by it.</summary>
    internal const string MessagingOperationLegacy = "messaging.operation";
    internal const string MessagingDestinationName = "messaging.destination.name";
    internal const string MessagingMessageId = "messaging.message.id";
    internal const string MessagingBatchMessageCount = "messaging.batch.message_count";
    internal const string TaskType = "taskqueue.task.type";

    internal static readonly ActivitySource ActivitySource = new(Name);

    // Static: the client is usable without DI, so there is no IMeterFactory to ask.
    private static readonly Meter Meter = new(Name);

    private static readonly Counter<long> TasksSubmitted =
        Meter.CreateCounter<long>(TasksSubmittedInstrument, "{task}", "Tasks accepted by the broker (duplicates included).");

    internal static void Submitted(string queue, int count) =>
        TasksSubmitted.Add(count, new TagList
        {
            { MessagingSystem, "taskqueue" },
            { MessagingOperationName, "send" },
            { MessagingDestinationName, queue },
        });
}
