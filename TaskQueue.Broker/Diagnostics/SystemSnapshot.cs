using Microsoft.Extensions.Options;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Diagnostics;

/// <summary>
/// The whole system as Redis sees it: every queue's counts and every live worker. GET /metrics and the
/// observable gauges both read it, so the JSON and the dashboard show the same numbers.
/// </summary>
public sealed record SystemSnapshot(IReadOnlyList<QueueCounts> Queues, IReadOnlyList<WorkerRecord> Workers, DateTimeOffset TakenAt)
{
    public int BusySlots => Workers.Sum(w => w.Busy);

    public int Slots => Workers.Sum(w => w.Slots);
}

public sealed class SystemSnapshotReader(RedisTaskStore store, WorkerRegistry registry, IOptions<BrokerOptions> options, TimeProvider time)
{
    public async Task<SystemSnapshot> ReadAsync(CancellationToken cancellationToken = default)
    {
        var queues = await store.GetQueuesAsync(cancellationToken);
        var counts = await Task.WhenAll(queues.Select(q => store.GetCountsAsync(q, cancellationToken)));
        var now = time.GetUtcNow();
        var workers = (await registry.ListAsync(now, options.Value.WorkerSilenceLimit)).Where(w => w.Status != WorkerStatuses.Disconnected).ToList();
        return new SystemSnapshot(counts, workers, now);
    }
}
