using TaskQueue.Protocol.V1;

namespace TaskQueue.Client;

/// <summary>Workers: drain one.</summary>
public sealed partial class TaskQueueClient
{
    /// <summary>
    /// Drains one worker (like Sidekiq's "quiet"): it takes no new tasks, finishes what it runs (releasing what still runs
    /// at its own drain timeout), and stays connected, shown as draining, until its process restarts; restart it to put it
    /// back to work. Reaches the worker whichever broker holds its stream. NotFound for a worker the registry does not
    /// know; needs admin scope on every queue the worker consumes (PermissionDenied otherwise); audited.
    /// </summary>
    public async Task<WorkerDrainResult> DrainWorkerAsync(string workerId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        var response = await _client.DrainWorkerAsync(new DrainWorkerRequest { WorkerId = workerId }, CallOptions(cancellationToken));
        return new WorkerDrainResult(response.Status, response.Broker, response.DeliveredHere, response.BrokersTold);
    }
}
