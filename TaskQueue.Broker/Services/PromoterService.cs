using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Moves due scheduled and retry work to the ready streams in bounded batches and wakes the
/// dispatchers; sleeps until the next task falls due (at most the promote interval), or until this
/// broker schedules a retry. Safe in every broker.
/// </summary>
internal sealed class PromoterService(
    RedisTaskStore store,
    ClusterEvents cluster,
    PromoterSignal signal,
    IOptions<BrokerOptions> options,
    TimeProvider time,
    ILogger<PromoterService> logger) : BackgroundService
{
    private readonly BrokerOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var sleep = _options.PromoteInterval;
            try
            {
                foreach (var queue in await store.GetQueuesAsync(stoppingToken))
                {
                    PromoteResult result;
                    do
                    {
                        result = await store.PromoteAsync(queue, stoppingToken);
                        if (result.Promoted > 0)
                        {
                            cluster.PublishReady(queue);
                        }
                    }
                    while (result.Promoted + result.Expired >= store.Options.PromoteBatchSize);

                    if (result.NextDueIn is { } due && due < sleep)
                    {
                        sleep = due;
                    }
                }
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
}
