using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Takes back expired leases. Runs in every broker: the reap script is atomic, so each expired lease is
/// reclaimed exactly once. Each tick visits only the queues the due index names as due (a queue with nothing
/// due costs nothing); at start it marks every registered queue due once, so leases written before the index
/// existed are found. Counts expiries per worker and quarantines a worker whose leases keep expiring without
/// completions while it keeps heartbeating.
/// </summary>
internal sealed class ReaperService(
    RedisTaskStore store,
    WorkerRegistry workers,
    ClusterEvents cluster,
    PromoterSignal promoter,
    IOptions<BrokerOptions> options,
    BrokerTelemetry telemetry,
    TimeProvider time,
    ILogger<ReaperService> logger) : BackgroundService
{
    private const int BatchSize = 1000;

    // The most queues one read of the due index returns; a full page is followed by another at once.
    private const int DuePage = 1000;

    private readonly BrokerOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var blame = new OutageBlame(_options.HeartbeatInterval, time.GetUtcNow(), logger);
        var seeded = false;
        using var timer = new PeriodicTimer(_options.ReapInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (!seeded)
                {
                    Log.DueIndexSeeded(logger, await store.SeedDueIndexAsync(stoppingToken));
                    seeded = true;
                }

                await ReapDueAsync(blame, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.ReapFailed(logger, ex);
            }
        }
    }

    // Visits every queue that is due, a page at a time; a queue still due after its visit (its scheduled work waits
    // for the promoter) is not visited twice in one tick.
    private async Task ReapDueAsync(OutageBlame blame, CancellationToken cancellationToken)
    {
        var visited = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var started = time.GetUtcNow();
            var due = await store.GetDueQueuesAsync(DuePage, cancellationToken);
            blame.Observe(started, time.GetUtcNow());
            var fresh = 0;
            foreach (var queue in due.Queues)
            {
                if (visited.Add(queue))
                {
                    fresh++;
                    await ReapQueueAsync(queue, blame, cancellationToken);
                }
            }

            if (due.Queues.Count < DuePage || fresh == 0)
            {
                return;
            }
        }
    }

    private async Task ReapQueueAsync(string queue, OutageBlame blame, CancellationToken cancellationToken)
    {
        IReadOnlyList<ReapedLease> reaped;
        do
        {
            var started = time.GetUtcNow();
            reaped = await store.ReapAsync(queue, BatchSize, cancellationToken);
            var outage = blame.Observe(started, time.GetUtcNow());
            if (reaped.Count == 0)
            {
                return;
            }

            telemetry.LeaseExpiries.Add(reaped.Count, BrokerTelemetry.QueueTag(queue));
            var now = time.GetUtcNow();
            foreach (var lease in reaped)
            {
                var trace = new TaskTrace(lease.Id, lease.Type, lease.Attempt, lease.MaxAttempts, lease.TraceParent, lease.TraceState);
                telemetry.Settled(trace, queue, lease.Outcome, completion: false, "lease expired", lease.LeasedAt, now);
                if (lease.Outcome == TransitionResult.DeadLettered)
                {
                    Log.LeaseDeadLettered(logger, lease.Id.ToString(), lease.Type, queue, lease.Attempt, lease.WorkerId);
                }
            }

            Log.Reaped(logger, reaped.Count, queue);
            if (reaped.Any(r => r.Outcome == TransitionResult.Retrying))
            {
                promoter.Wake();
            }

            if (outage)
            {
                continue; // the leases are retried all the same; only the quarantine count skips them
            }

            foreach (var worker in reaped.GroupBy(r => r.WorkerId, StringComparer.Ordinal))
            {
                // Two missed heartbeats: silent, not poison (a poison worker heartbeats and still never finishes).
                var streak = await workers.CountExpiredLeasesAsync(
                    worker.Key, [.. worker.Select(r => r.LeasedAt)], now, _options.HeartbeatInterval * 2);
                if (streak >= _options.QuarantineThreshold)
                {
                    var until = time.GetUtcNow() + _options.QuarantineDuration;
                    await workers.QuarantineAsync(worker.Key, until);
                    cluster.PublishQuarantine(worker.Key, until);
                    telemetry.Quarantines.Add(1);
                }
            }
        }
        while (reaped.Count == BatchSize);
    }
}
