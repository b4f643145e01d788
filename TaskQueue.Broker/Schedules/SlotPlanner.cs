namespace TaskQueue.Broker.Schedules;

/// <summary>
/// Which of a schedule's due slots a visit fires: every slot in [next, now] (Redis time) that is within the misfire
/// threshold of now is on time and fires; older ones were missed (an outage, every broker stopped) and the catch-up
/// policy picks among them — none, the latest, or the latest N — oldest first. The next slot is the first after now.
/// </summary>
public static class SlotPlanner
{
    public static SlotPlan Plan(CronSlots slots, long nextMs, long nowMs, CatchUpPolicy policy, int catchUpMax, TimeSpan misfireThreshold)
    {
        if (nextMs > nowMs)
        {
            return new SlotPlan([], 0, nextMs);
        }

        var keep = policy switch
        {
            CatchUpPolicy.Skip => 0,
            CatchUpPolicy.One => 1,
            _ => catchUpMax,
        };
        var onTimeFrom = nowMs - (long)misfireThreshold.TotalMilliseconds;
        var kept = new Queue<long>();
        var onTime = new List<long>();
        long missed = 0;
        // Lazy: a long outage of a per-second schedule walks its slots once, holding only the latest `keep`.
        foreach (var slot in slots.Between(nextMs, nowMs))
        {
            if (slot >= onTimeFrom)
            {
                onTime.Add(slot);
                continue;
            }

            missed++;
            if (keep > 0)
            {
                kept.Enqueue(slot);
                if (kept.Count > keep)
                {
                    kept.Dequeue();
                }
            }
        }

        return new SlotPlan([.. kept, .. onTime], missed - kept.Count, slots.NextAfter(nowMs));
    }
}

/// <summary>
/// A visit's plan: the slots to fire (earliest first), how many missed slots the catch-up policy dropped, and the next
/// slot after them (null: the expression names no later instant).
/// </summary>
public sealed record SlotPlan(IReadOnlyList<long> Fire, long Dropped, long? Next);
