using Microsoft.Extensions.Options;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Moves due scheduled and retry work to the ready streams in bounded batches and wakes the
/// dispatchers; sleeps until the next task falls due (at most the promote interval). Safe in every broker.
/// </summary>
internal sealed partial class PromoterService(
    RedisTaskStore store,
    ClusterEvents cluster,
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
                LogPromoteFailed(logger, ex);
            }

            try
            {
                await Task.Delay(sleep < TimeSpan.FromMilliseconds(5) ? TimeSpan.FromMilliseconds(5) : sleep, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Promoting scheduled work failed; retrying shortly")]
    private static partial void LogPromoteFailed(ILogger logger, Exception exception);
}
