using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Moves due scheduled and retry work to the ready streams in bounded batches and wakes the
/// dispatchers; trims dead letters past their age and forgets queues that stayed empty. Visits only the
/// queues the due index names as due, and sleeps until the next queue falls due (at most the promote
/// interval), or until this broker schedules a retry. Safe in every broker.
/// </summary>
internal sealed class PromoterService(
    RedisTaskStore store,
    ClusterEvents cluster,
    PromoterSignal signal,
    IOptions<BrokerOptions> options,
    TimeProvider time,
    ILogger<PromoterService> logger) : BackgroundService
{
    // The most queues one read of the due index returns; a full page is followed by another at once.
    private const int DuePage = 1000;

    private readonly BrokerOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var sleep = _options.PromoteInterval;
            try
            {
                sleep = await PromoteDueAsync(sleep, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.PromoteFailed(logger, ex);
            }

            try
            {
                // At most one pass per 5 ms however often retries wake it: under a retry storm, passes batch.
                await Task.Delay(TimeSpan.FromMilliseconds(5), time, stoppingToken);
                if (sleep > TimeSpan.FromMilliseconds(5))
                {
                    await signal.WaitAsync(sleep - TimeSpan.FromMilliseconds(5), time, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Visits every queue that is due, a page at a time (one still due after its visit — an expired lease waits for
    // the reaper — is not visited twice in a pass); returns how long to sleep: until the first queue not due yet
    // falls due, or the next scheduled task of a visited queue, at most `sleep`.
    private async Task<TimeSpan> PromoteDueAsync(TimeSpan sleep, CancellationToken cancellationToken)
    {
        var visited = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var due = await store.GetDueQueuesAsync(DuePage, cancellationToken);
            var fresh = 0;
            foreach (var queue in due.Queues)
            {
                if (!visited.Add(queue))
                {
                    continue;
                }

                fresh++;
                PromoteResult result;
                do
                {
                    result = await store.PromoteAsync(queue, cancellationToken);
                    if (result.Promoted > 0)
                    {
                        cluster.PublishReady(queue);
                    }
                }
                while (result.Promoted + result.Expired >= store.Options.PromoteBatchSize);

                if (result.NextDueIn is { } scheduled && scheduled < sleep)
                {
                    sleep = scheduled;
                }
            }

            if (due.Queues.Count < DuePage || fresh == 0)
            {
                return due.NextDueIn is { } next && next < sleep ? next : sleep;
            }
        }
    }
}
