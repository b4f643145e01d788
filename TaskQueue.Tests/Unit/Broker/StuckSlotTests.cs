using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Fakes;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>Stuck slots: a timed-out task whose handler has not returned counts against its worker's credit until it is gone.</summary>
public sealed class StuckSlotTests
{
    private static readonly DateTimeOffset s_now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static (WorkerSession Session, List<LeasedTask> Tasks) Running(int concurrency, int running)
    {
        var session = new WorkerSession("worker-1", ["a"], [], concurrency, s_now);
        var tasks = Enumerable.Range(0, running).Select(_ => LeasedTasks.New("a")).ToList();
        Assert.True(session.Commit(session.Reserve("a", running), tasks, s_now, out _));
        return (session, tasks);
    }

    [Fact]
    public void A_timed_out_task_keeps_its_slot_taken_after_its_lease_is_gone()
    {
        var (session, tasks) = Running(concurrency: 3, running: 2);

        session.MarkStuck(tasks[0].Id);

        Assert.Equal(1, session.Busy);
        Assert.Equal(1, session.StuckSlots);
        Assert.Equal(1, session.Reserve("a", max: 10));
    }

    [Fact]
    public void A_stuck_slot_stays_while_heartbeats_list_the_task_as_running_or_stuck_and_frees_once_they_do_not()
    {
        var (session, tasks) = Running(concurrency: 2, running: 1);
        var id = tasks[0].Id;
        session.MarkStuck(id);

        // Sent before the worker heard of the timeout: still listed as running.
        Assert.False(session.UpdateStuck([], new HashSet<TaskId> { id }));
        Assert.False(session.UpdateStuck([id], new HashSet<TaskId>()));
        Assert.Equal(1, session.StuckSlots);
        Assert.True(session.UpdateStuck([], new HashSet<TaskId>()));

        Assert.Equal(0, session.StuckSlots);
        Assert.Equal(2, session.Reserve("a", max: 10));
    }

    [Fact]
    public void A_late_report_frees_the_stuck_slot_at_once()
    {
        var (session, tasks) = Running(concurrency: 2, running: 1);
        session.MarkStuck(tasks[0].Id);

        Assert.True(session.ClearStuck(tasks[0].Id));
        Assert.False(session.ClearStuck(tasks[0].Id));
        Assert.Equal(2, session.Reserve("a", max: 10));
    }

    [Fact]
    public void A_report_or_renewal_of_an_older_lease_of_a_task_frees_nothing_and_one_of_the_held_lease_frees_its_slot()
    {
        var (session, tasks) = Running(concurrency: 1, running: 1);
        var held = tasks[0];

        Assert.False(session.Release(held.Id, "token-of-an-earlier-attempt"));
        Assert.Equal(1, session.Busy);
        Assert.NotNull(session.Find(held.Id, held.LeaseToken));

        Assert.True(session.Release(held.Id, held.LeaseToken));
        Assert.Equal(0, session.Busy);
        Assert.False(session.Release(held.Id, held.LeaseToken));
    }

    [Fact]
    public void Stuck_tasks_a_worker_lists_after_a_reconnect_count_but_never_more_than_its_slots()
    {
        var session = new WorkerSession("worker-1", ["a"], [], 2, s_now);
        var listed = Enumerable.Range(0, 5).Select(_ => LeasedTasks.New("a").Id).ToList();

        session.UpdateStuck(listed, new HashSet<TaskId>());

        Assert.Equal(2, session.StuckSlots);
        Assert.Equal(0, session.Reserve("a", max: 10));
    }
}
