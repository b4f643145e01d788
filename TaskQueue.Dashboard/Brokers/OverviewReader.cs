using Grpc.Core;
using TaskQueue.Client;

namespace TaskQueue.Dashboard.Brokers;

/// <summary>One queue's row on the Overview: paused or not, its counts now and its cumulative counters (the page turns those into rates).</summary>
public sealed record QueueRow(string Queue, bool Paused, long Ready, long Scheduled, long Leased, long DeadLettered, long Completed, long Failed);

/// <summary>The workers' side of the Overview; null fields when the operator may not read /workers.</summary>
public sealed record WorkerSummary(int Connected, int Slots, int BusySlots, int Quarantined, int StuckSlots);

/// <summary>Everything the Overview shows at one moment.</summary>
public sealed record OverviewSnapshot(DateTimeOffset At, IReadOnlyList<QueueRow> Queues, WorkerSummary? Workers);

/// <summary>
/// Reads the Overview: the queues the operator may read (ListQueues), each one's GetQueueStats (in parallel), and the
/// workers from /workers. The page polls it every RefreshInterval and derives throughput and failure rate from the
/// counters' differences, so the figures are the broker's own and cost one stats call per queue per refresh.
/// </summary>
public sealed class OverviewReader(TimeProvider time)
{
    public async Task<OverviewSnapshot> ReadAsync(OperatorSession session, CancellationToken cancellationToken)
    {
        var queues = await session.Client.ListQueuesAsync(cancellationToken);
        var stats = await Task.WhenAll(queues.Select(queue => session.Client.GetQueueStatsAsync(queue, cancellationToken)));
        WorkerSummary? summary = null;
        try
        {
            var workers = await session.ListWorkersAsync(cancellationToken);
            summary = new WorkerSummary(
                workers.Count, workers.Sum(w => w.Slots), workers.Sum(w => w.BusySlots),
                workers.Count(w => w.QuarantinedUntil is not null), workers.Sum(w => w.StuckSlots));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.PermissionDenied)
        {
            // No read scope at all: the workers are not the operator's to see.
        }

        return new OverviewSnapshot(
            time.GetUtcNow(),
            [.. stats.Select(s => new QueueRow(s.Queue, s.Paused, s.Ready, s.Scheduled, s.Leased, s.DeadLettered, s.Completed, s.Failed))],
            summary);
    }
}
