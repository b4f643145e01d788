using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Schedules;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Fires cron schedules: visits only the queues the schedule index (<see cref="RedisKeys.ScheduleDue"/>) names as due
/// by Redis's clock, and sleeps until the next falls due (at most <see cref="ScheduleOptions.MaxSleep"/>), or until an
/// upsert or resume on any broker wakes it. Safe in every broker: a slot fires once whoever visits.
/// </summary>
internal sealed class SchedulerService(
    RedisScheduleStore store, ScheduleFirer firer, ScheduleSignal signal, IOptions<ScheduleOptions> options, TimeProvider time,
    ILogger<SchedulerService> logger) : BackgroundService
{
    private const int DuePage = 1000;

    // A queue still due after its visit (its fires kept coming back stale) is visited again this soon.
    private static readonly TimeSpan s_again = TimeSpan.FromMilliseconds(50);

    private readonly ScheduleOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var sleep = _options.MaxSleep;
            try
            {
                sleep = await VisitDueAsync(sleep, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.SchedulerFailed(logger, ex);
            }

            try
            {
                await signal.WaitAsync(sleep, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Visits every due queue once per pass (one still due after its visit waits for the next pass); returns how long to
    // sleep: until the first queue not due yet falls due, at most `sleep`.
    private async Task<TimeSpan> VisitDueAsync(TimeSpan sleep, CancellationToken cancellationToken)
    {
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var again = false;
        while (true)
        {
            var due = await store.GetDueQueuesAsync(DuePage, cancellationToken);
            var fresh = 0;
            foreach (var queue in due.Queues)
            {
                if (visited.Add(queue))
                {
                    fresh++;
                    try
                    {
                        again |= (await firer.VisitAsync(queue, cancellationToken)).StillDue;
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        Log.ScheduleVisitFailed(logger, ex, queue);
                    }
                }
            }

            if (due.Queues.Count < DuePage || fresh == 0)
            {
                var next = due.NextDueIn is { } at && at < sleep ? at : sleep;
                return again && s_again < next ? s_again : next;
            }
        }
    }
}
