using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Fakes;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>A session's credits: reserved before a claim, committed after it, never more out than slots.</summary>
public sealed class WorkerSessionTests
{
    private static readonly DateTimeOffset s_now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static WorkerSession Session(int concurrency, bool batches = false, params string[] queues) =>
        new("worker-1", queues.Length == 0 ? ["a", "b"] : queues, [], concurrency, s_now) { Batches = batches };

    private static List<LeasedTask> Leased(int count, string queue = "a") => [.. Enumerable.Range(0, count).Select(_ => LeasedTasks.New(queue))];

    [Fact]
    public void A_reservation_takes_at_most_the_free_slots_and_the_largest_claim()
    {
        var session = Session(concurrency: 10);

        Assert.Equal(4, session.Reserve("a", max: 4));
        Assert.Equal(6, session.Reserve("a", max: 100));
        Assert.Equal(0, session.Reserve("b", max: 5));
    }

    [Fact]
    public void Committed_tasks_hold_their_slots_and_unused_reserved_slots_come_back()
    {
        var session = Session(concurrency: 4);
        var reserved = session.Reserve("a", max: 4);

        Assert.True(session.Commit(reserved, Leased(1), s_now, out _));

        Assert.Equal(1, session.Busy);
        Assert.Equal(3, session.Reserve("a", max: 10));
    }

    [Fact]
    public void A_queue_turned_away_by_another_queues_claim_is_woken_when_that_claim_comes_back_short()
    {
        var session = Session(concurrency: 2);
        var reserved = session.Reserve("a", max: 2);
        Assert.Equal(0, session.Reserve("b", max: 2));

        session.Commit(reserved, Leased(1), s_now, out var starved);

        Assert.Equal(["b"], starved);
    }

    [Fact]
    public void A_starved_queue_is_woken_once()
    {
        var session = Session(concurrency: 2);
        var first = session.Reserve("a", max: 1);
        var second = session.Reserve("a", max: 1);
        Assert.Equal(0, session.Reserve("b", max: 1));

        session.Commit(first, [], s_now, out var woken);
        session.Commit(second, [], s_now, out var again);

        Assert.Equal(["b"], woken);
        Assert.Empty(again);
    }

    [Fact]
    public void A_claim_that_filled_every_slot_it_reserved_wakes_no_one()
    {
        var session = Session(concurrency: 2);
        var reserved = session.Reserve("a", max: 2);
        Assert.Equal(0, session.Reserve("b", max: 2));

        session.Commit(reserved, Leased(2), s_now, out var starved);

        Assert.Empty(starved);
    }

    [Fact]
    public void A_queue_turned_away_because_every_slot_runs_a_task_is_left_to_the_freed_slot_wake_up()
    {
        var session = Session(concurrency: 1);
        var running = Leased(1);
        session.Commit(session.Reserve("a", max: 1), running, s_now, out _);
        Assert.Equal(0, session.Reserve("b", max: 1)); // no claim holds slots: none will hand any back

        Assert.True(session.Release(running[0].Id, running[0].LeaseToken));
        session.Commit(session.Reserve("a", max: 1), [], s_now, out var starved);

        Assert.Empty(starved);
    }

    [Fact]
    public void A_claim_that_returns_after_the_session_closed_takes_nothing_and_the_caller_hands_the_tasks_back()
    {
        var session = Session(concurrency: 2);
        var reserved = session.Reserve("a", max: 2);
        session.Close();

        Assert.False(session.Commit(reserved, Leased(2), s_now, out _));
        Assert.Equal(0, session.Busy);
        Assert.Equal(0, session.Reserve("a", max: 2));
    }

    [Fact]
    public async Task A_batching_worker_gets_one_message_per_claim_and_another_one_message_per_task()
    {
        var batching = Session(concurrency: 8, batches: true);
        var single = Session(concurrency: 8, batches: false);

        batching.Commit(batching.Reserve("a", 3), Leased(3), s_now, out _);
        single.Commit(single.Reserve("a", 3), Leased(3), s_now, out _);
        batching.Close();
        single.Close();

        var batched = await batching.Outbox.ReadAllAsync().ToListAsync();
        var singles = await single.Outbox.ReadAllAsync().ToListAsync();
        Assert.Equal(3, Assert.Single(batched).Assignments.Tasks.Count);
        Assert.Equal(3, singles.Count(m => m.Assignment is not null));
    }

    [Fact]
    public void A_draining_or_quarantined_worker_takes_no_work_until_its_quarantine_ends()
    {
        var draining = Session(concurrency: 1);
        draining.Draining = true;
        var quarantined = Session(concurrency: 1);
        quarantined.QuarantinedUntil = s_now.AddMinutes(5);

        Assert.False(draining.CanTakeWork(s_now));
        Assert.False(quarantined.CanTakeWork(s_now));
        Assert.True(quarantined.CanTakeWork(s_now.AddMinutes(5)));
    }

    [Fact]
    public void A_task_left_out_of_heartbeats_is_forgotten_only_when_it_was_sent_before_the_cut_off()
    {
        var session = Session(concurrency: 4);
        var early = Leased(1);
        var late = Leased(1);
        session.Commit(session.Reserve("a", 1), early, s_now, out _);
        session.Commit(session.Reserve("a", 1), late, s_now.AddSeconds(10), out _);

        var forgotten = session.ForgetUnlisted(new HashSet<TaskId>(), before: s_now.AddSeconds(5));

        Assert.Equal(early[0].Id, Assert.Single(forgotten).Id);
        Assert.Equal(1, session.Busy);
    }
}
