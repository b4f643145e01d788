using Microsoft.Extensions.Options;
using TaskQueue.Broker.Services;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Sessions;

/// <summary>What a DrainWorker did: the worker's broker as the registry names it, and how the drain travelled there.</summary>
internal sealed record DrainOutcome(string Broker, bool DeliveredHere, long BrokersTold);

/// <summary>
/// DrainWorker (Sidekiq's "quiet"): the worker takes no new tasks, finishes what it runs and stays connected until its
/// process restarts. The registry's drain flag is set first, so a publish that no broker hears still drains the worker at
/// its session's next heartbeat; then the session is drained here or the others are told.
/// </summary>
internal sealed class OperatorDrain(WorkerRegistry registry, ClusterEvents cluster, IOptions<BrokerOptions> options, TimeProvider time)
{
    /// <summary>The worker's registry entry (its queues decide who may drain it), or null when the registry does not know it.</summary>
    public Task<WorkerRecord?> FindAsync(string workerId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return registry.GetAsync(workerId, time.GetUtcNow(), options.Value.WorkerSilenceLimit);
    }

    /// <summary>Drains the worker; null, changing nothing, when its entry is gone meanwhile.</summary>
    public async Task<DrainOutcome?> DrainAsync(string workerId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (await registry.RequestDrainAsync(workerId, time.GetUtcNow(), options.Value.WorkerSilenceLimit) is not { } record)
        {
            return null;
        }

        var (deliveredHere, brokersTold) = await cluster.PublishWorkerDrainAsync(workerId);
        return new DrainOutcome(record.Broker, deliveredHere, brokersTold);
    }
}
