using Aspire.Hosting.ApplicationModel;

namespace TaskQueue.Hosting;

/// <summary>
/// The TaskQueue resource has no process of its own: it is running once every broker is healthy, which is what
/// <c>.WaitFor(taskQueue)</c> waits for.
/// </summary>
internal static class BrokerReadiness
{
    public static async Task WaitForBrokersAsync(TaskQueueResource taskQueue, InitializeResourceEvent @event, CancellationToken cancellationToken)
    {
        await @event.Notifications.PublishUpdateAsync(taskQueue, s => s with { State = KnownResourceStates.Waiting });
        foreach (var broker in taskQueue.Brokers)
        {
            await @event.Notifications.WaitForResourceHealthyAsync(broker.Name, cancellationToken);
        }

        await @event.Notifications.PublishUpdateAsync(taskQueue, s => s with
        {
            State = KnownResourceStates.Running,
            StartTimeStamp = DateTime.UtcNow,
        });
        await @event.Eventing.PublishAsync(new ConnectionStringAvailableEvent(taskQueue, @event.Services), cancellationToken);
    }
}
