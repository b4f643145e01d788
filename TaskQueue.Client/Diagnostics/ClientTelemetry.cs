using System.Diagnostics;
using System.Diagnostics.Metrics;
using TaskQueue.Protocol;

namespace TaskQueue.Client.Diagnostics;

/// <summary>The client's ActivitySource and Meter, both named "TaskQueue.Client".</summary>
public static class ClientTelemetry
{
    /// <summary>The name of the ActivitySource and of the Meter: add it to OpenTelemetry's tracing and metrics.</summary>
    public const string Name = "TaskQueue.Client";

    /// <summary>The messaging conventions' count of messages a producer sent.</summary>
    public const string TasksSubmittedInstrument = "messaging.client.sent.messages";

    internal static readonly ActivitySource ActivitySource = new(Name);

    // Static: the client is usable without DI, so there is no IMeterFactory to ask.
    private static readonly Meter Meter = new(Name);

    private static readonly Counter<long> TasksSubmitted =
        Meter.CreateCounter<long>(TasksSubmittedInstrument, "{task}", "Tasks accepted by the broker (duplicates included).");

    internal static void Submitted(string queue, int count) =>
        TasksSubmitted.Add(count, new TagList
        {
            { MessagingTags.MessagingSystem, MessagingTags.SystemName },
            { MessagingTags.MessagingOperationName, "send" },
            { MessagingTags.MessagingDestinationName, queue },
        });
}
