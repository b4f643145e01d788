using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Takes back expired leases in every queue. Runs in every broker: the reap script is atomic, so each
/// expired lease is reclaimed exactly once. Counts expiries per worker and quarantines a worker whose
/// leases keep expiring without completions while it keeps heartbeating.
/// </summary>
internal sealed partial class ReaperService(
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
    private readonly BrokerOptions _options = options.Value;

    // When Redis last answered this reaper promptly, and until when expiries are blamed on an outage.
    private DateTimeOffset _lastAnswer;
    private DateTimeOffset _outageExcusedUntil;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _lastAnswer = time.GetUtcNow();
        using var timer = new PeriodicTimer(_options.ReapInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var started = time.GetUtcNow();
                var queues = await store.GetQueuesAsync(stoppingToken);
                BlameOutage(started, time.GetUtcNow());
                foreach (var queue in queues)
                {
                    await ReapQueueAsync(queue, stoppingToken);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogReapFailed(logger, ex);
            }
        }
    }

    /// <summary>
    /// True when Redis (or this broker) was stuck around this call: nothing answered for longer than a
    /// heartbeat interval. Renewals were stuck too, so leases that ran out then, and until every worker has
    /// heartbeated again, say nothing about their workers.
    /// </summary>
    private bool BlameOutage(DateTimeOffset callStarted, DateTimeOffset answered)
    {
        var stuckFor = answered - (callStarted > _lastAnswer ? _lastAnswer : callStarted);
        if (stuckFor > _options.HeartbeatInterval || answered - callStarted > _options.HeartbeatInterval)
        {
            _outageExcusedUntil = answered + (_options.HeartbeatInterval * 2);
            LogOutage(logger, stuckFor);
        }

        _lastAnswer = answered;
        return answered < _outageExcusedUntil;
    }

    private async Task ReapQueueAsync(string queue, CancellationToken cancellationToken)
    {
        IReadOnlyList<ReapedLease> reaped;
        do
        {
            var started = time.GetUtcNow();
            reaped = await store.ReapAsync(queue, BatchSize, cancellationToken);
            var outage = BlameOutage(started, time.GetUtcNow());
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
                    LogDeadLettered(logger, lease.Id.ToString(), lease.Type, queue, lease.Attempt, lease.WorkerId);
                }
            }

            LogReaped(logger, reaped.Count, queue);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Reaped {Count} expired leases in queue {Queue}")]
    private static partial void LogReaped(ILogger logger, int count, string queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} ({TaskType}) on queue {Queue} was dead-lettered after attempt {Attempt}: its lease on worker {WorkerId} expired")]
    private static partial void LogDeadLettered(ILogger logger, string taskId, string taskType, string queue, int attempt, string workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis did not answer the reaper for {StuckFor}: leases that expire until every worker has heartbeated again do not count towards quarantine")]
    private static partial void LogOutage(ILogger logger, TimeSpan stuckFor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reaping failed; retrying on the next tick")]
    private static partial void LogReapFailed(ILogger logger, Exception exception);
}
