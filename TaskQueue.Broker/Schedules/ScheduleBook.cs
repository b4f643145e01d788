using Microsoft.Extensions.Options;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Schedules;

/// <summary>
/// The operations on schedules the API offers: upsert, read, pause, resume, trigger, delete. Slot times come from
/// Cronos here; every decision against Redis's clock and every compare-and-set is in the scripts. A change read at
/// one version and refused because another changed the schedule meanwhile is read and tried again.
/// </summary>
internal sealed class ScheduleBook(
    RedisScheduleStore store, RedisTaskStore tasks, IReadyAnnouncer ready, IOptions<ScheduleOptions> options)
{
    // Each refused try means another change went through; a storm of them ends in ABORTED, never in a lost write.
    private const int Tries = 20;

    private readonly ScheduleOptions _options = options.Value;

    /// <summary>
    /// Creates or changes a schedule. A change takes effect at the next slot: the first slot of the new definition at or
    /// after the stored next slot (so a due slot not handled yet is not lost) or after now if that is earlier, and always
    /// after the last slot handled (so no slot fires twice). The same definition again changes nothing.
    /// </summary>
    public async Task<UpsertResult> UpsertAsync(ScheduleDefinition definition, CancellationToken cancellationToken)
    {
        var slots = ScheduleValidation.Validate(definition, store.Options);
        for (var attempt = 0; attempt < Tries; attempt++)
        {
            var read = await store.ReadAsync(definition.Queue, [definition.Name], cancellationToken);
            var current = First(read.Schedules);
            var from = read.NowMs + 1;
            if (current is not null)
            {
                if (current.NextRun is { } next)
                {
                    from = Math.Min(from, next.ToUnixTimeMilliseconds());
                }

                if (current.LastRun is { } last)
                {
                    from = Math.Max(from, last.ToUnixTimeMilliseconds() + 1);
                }
            }

            var result = await store.UpsertAsync(
                definition, current?.Version ?? 0, slots.NextAtOrAfter(from) ?? -1, _options.MaxSchedulesPerQueue, cancellationToken);
            switch (result.Code)
            {
                case ScheduleCodes.Stale:
                    continue;
                case ScheduleCodes.LimitReached:
                    throw new LimitExceededException(
                        $"Queue '{definition.Queue}' holds {_options.MaxSchedulesPerQueue} schedules, its limit (TaskQueue:Schedules:MaxSchedulesPerQueue).");
                default:
                    var outcome = result.Code switch
                    {
                        ScheduleCodes.Created => UpsertOutcome.Created,
                        ScheduleCodes.Unchanged => UpsertOutcome.Unchanged,
                        _ => UpsertOutcome.Updated,
                    };
                    var stored = await GetAsync(definition.Queue, definition.Name, cancellationToken)
                        ?? throw new ScheduleConflictException($"Schedule '{definition.Name}' was deleted while it was being stored.");
                    return new UpsertResult(outcome, stored);
            }
        }

        throw new ScheduleConflictException($"Schedule '{definition.Name}' kept changing under this upsert ({Tries} tries); nothing was written. Try again.");
    }

    private static ScheduleSnapshot? First(IReadOnlyList<ScheduleSnapshot> schedules) => schedules.Count > 0 ? schedules[0] : null;

    public async Task<ScheduleSnapshot?> GetAsync(string queue, string name, CancellationToken cancellationToken)
    {
        ScheduleValidation.ValidateName(name);
        return (await store.ReadAsync(queue, [name], cancellationToken)).Schedules is [var first, ..] ? first : null;
    }

    /// <summary>The schedules of each of <paramref name="queues"/>, queue by queue, in name order.</summary>
    public async Task<IReadOnlyList<ScheduleSnapshot>> ListAsync(IEnumerable<string> queues, CancellationToken cancellationToken)
    {
        var all = new List<ScheduleSnapshot>();
        foreach (var queue in queues)
        {
            all.AddRange((await store.ReadAllAsync(queue, cancellationToken)).Schedules);
        }

        return all;
    }

    /// <summary>Every queue holding a schedule.</summary>
    public Task<IReadOnlyList<string>> QueuesAsync(CancellationToken cancellationToken) => store.ListQueuesAsync(cancellationToken);

    /// <summary>Pauses a schedule: no slot fires until it resumes. Null: no such schedule.</summary>
    public async Task<ScheduleSnapshot?> PauseAsync(string queue, string name, CancellationToken cancellationToken)
    {
        ScheduleValidation.ValidateName(name);
        return await store.PauseAsync(queue, name, cancellationToken) ? await GetAsync(queue, name, cancellationToken) : null;
    }

    /// <summary>Resumes a schedule at its first slot after now (the pause's slots are not caught up). Null: no such schedule.</summary>
    public async Task<ScheduleSnapshot?> ResumeAsync(string queue, string name, CancellationToken cancellationToken)
    {
        ScheduleValidation.ValidateName(name);
        for (var attempt = 0; attempt < Tries; attempt++)
        {
            var read = await store.ReadAsync(queue, [name], cancellationToken);
            if (First(read.Schedules) is not { } current)
            {
                return null;
            }

            if (!current.Paused)
            {
                return current;
            }

            var slots = CronSlots.Parse(current.Definition.Cron, current.Definition.TimeZone);
            var from = Math.Max(read.NowMs + 1, (current.LastRun?.ToUnixTimeMilliseconds() ?? 0) + 1);
            var code = await store.ResumeAsync(queue, name, current.Version, slots.NextAtOrAfter(from) ?? -1, cancellationToken);
            if (code == ScheduleCodes.Missing)
            {
                return null;
            }

            if (code == ScheduleCodes.Ok)
            {
                return await GetAsync(queue, name, cancellationToken);
            }
        }

        throw new ScheduleConflictException($"Schedule '{name}' kept changing under this resume ({Tries} tries). Try again.");
    }

    /// <summary>Creates the schedule's task now, with an id of its own (not a slot's). Null: no such schedule.</summary>
    public async Task<TaskId?> TriggerAsync(string queue, string name, CancellationToken cancellationToken)
    {
        ScheduleValidation.ValidateName(name);
        var id = TaskId.New(queue);
        var code = await store.TriggerAsync(id, name, cancellationToken);
        if (code == ScheduleCodes.Unregistered)
        {
            // Forgotten while empty: registered again within the cap (which may refuse it), as a submit would be.
            await tasks.RegisterQueuesAsync([queue]);
            code = await store.TriggerAsync(id, name, cancellationToken);
        }

        if (code != ScheduleCodes.Ok)
        {
            return code == ScheduleCodes.Missing ? null : throw new ScheduleConflictException($"Queue '{queue}' was forgotten again while it was registered; try again.");
        }

        ready.PublishReady(queue);
        return id;
    }

    /// <summary>Deletes a schedule (its tasks stay). False: there was none.</summary>
    public Task<bool> DeleteAsync(string queue, string name, CancellationToken cancellationToken)
    {
        ScheduleValidation.ValidateName(name);
        TaskValidation.ValidateQueueName(queue);
        return store.DeleteAsync(queue, name, cancellationToken);
    }
}
