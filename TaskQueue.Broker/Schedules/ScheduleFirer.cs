using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Schedules;

/// <summary>
/// One visit to a queue's due schedules: reads them with Redis's clock, plans each one's slots (Cronos, the catch-up
/// policy) and fires the plan in one script, whose compare-and-set on the version and next slot makes sure a slot fires
/// once however many brokers visit at the same moment (the others' calls come back stale and change nothing).
/// </summary>
internal sealed class ScheduleFirer(
    RedisScheduleStore store, RedisTaskStore tasks, IReadyAnnouncer ready, IOptions<ScheduleOptions> options, ILogger<ScheduleFirer> logger)
{
    // Due schedules read per script call; a full page is followed by another.
    private const int Page = 100;

    // Reads of the due schedules per visit: a slot that fell due during the visit, or a stale fire, is handled again at once.
    private const int Rounds = 4;

    private readonly ScheduleOptions _options = options.Value;

    /// <summary>
    /// Visits the queue's due schedules; returns the number of tasks created, and whether some schedule was still due
    /// after the last round (its fires kept coming back stale under a storm of changes): visit again soon.
    /// </summary>
    public async Task<ScheduleVisit> VisitAsync(string queue, CancellationToken cancellationToken)
    {
        var created = 0;
        var stillDue = false;
        for (var round = 0; round <= Rounds; round++)
        {
            var due = await store.ReadDueAsync(queue, Page, cancellationToken);
            if (due.Schedules.Count == 0)
            {
                break;
            }

            if (round == Rounds)
            {
                stillDue = true;
                break;
            }

            foreach (var schedule in due.Schedules)
            {
                created += await FireAsync(queue, schedule, due.NowMs, cancellationToken);
            }
        }

        if (created > 0)
        {
            ready.PublishReady(queue);
        }

        return new ScheduleVisit(created, stillDue);
    }

    private async Task<int> FireAsync(string queue, DueSchedule schedule, long nowMs, CancellationToken cancellationToken)
    {
        CronSlots slots;
        try
        {
            slots = CronSlots.Parse(schedule.Cron, schedule.TimeZone);
        }
        catch (TaskValidationException ex)
        {
            // Stored valid; a time zone this broker's system lacks: another broker may know it. Left as it is.
            Log.ScheduleUnplannable(logger, queue, schedule.Name, ex.Message);
            return 0;
        }

        var plan = SlotPlanner.Plan(slots, schedule.NextMs, nowMs, schedule.CatchUp, schedule.CatchUpMax, _options.MisfireThreshold);
        var result = await store.FireAsync(queue, schedule, plan, _options.BufferRecheck, cancellationToken);
        if (result.Code == ScheduleCodes.Unregistered)
        {
            try
            {
                // The queue was forgotten while empty: registered again within the cap, as a submit would be.
                await tasks.RegisterQueuesAsync([queue]);
            }
            catch (LimitExceededException ex)
            {
                Log.ScheduleQueueRefused(logger, queue, schedule.Name, ex.Message);
                return 0;
            }

            result = await store.FireAsync(queue, schedule, plan, _options.BufferRecheck, cancellationToken);
        }

        if (result.Code == ScheduleCodes.Ok && (result.Fired > 0 || result.Skipped > 0 || plan.Dropped > 0))
        {
            Log.ScheduleFired(logger, queue, schedule.Name, result.Fired, result.Skipped, plan.Dropped);
        }

        return result.Code == ScheduleCodes.Ok ? result.Fired : 0;
    }
}

/// <summary>What a visit did: the tasks it created, and whether a schedule of the queue was still due at its end.</summary>
internal readonly record struct ScheduleVisit(int Created, bool StillDue);
