using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// The due index (tq:due): the scripts mark a queue due when they create something that will need a visit, and a
/// visit (reap, promote) moves the queue on to its next due time. On the shared Redis, so only this test's queue is
/// looked at; the queues of other tests are in the index too.
/// </summary>
public class DueIndexTests : StoreTests
{
    [Fact]
    public async Task A_claim_marks_its_queue_due_at_the_lease_deadline()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        await FirstVisitAsync(h);
        Assert.False(await IsDueAsync(h));

        var task = await ClaimOneAsync(h, TimeSpan.FromSeconds(30));

        Assert.Equal(task.LeaseDeadline.ToUnixTimeMilliseconds(), await DueAtAsync(h));
        Assert.False(await IsDueAsync(h));
        h.Advance(TimeSpan.FromSeconds(31));
        Assert.True(await IsDueAsync(h));
    }

    [Fact]
    public async Task A_delayed_submit_marks_its_queue_due_when_the_task_falls_due_and_an_earlier_one_lowers_it()
    {
        var h = await NewStoreAsync();
        var late = await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromMinutes(10) });
        await FirstVisitAsync(h);
        var lateDue = (await SnapshotAsync(h, late.Id)).DueAt!.Value.ToUnixTimeMilliseconds();
        Assert.Equal(lateDue, await DueAtAsync(h));

        var early = await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromMinutes(1) });
        var earlyDue = (await SnapshotAsync(h, early.Id)).DueAt!.Value.ToUnixTimeMilliseconds();
        await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromMinutes(5) });

        Assert.Equal(earlyDue, await DueAtAsync(h));
    }

    [Fact]
    public async Task A_retry_with_backoff_and_a_shortened_lease_mark_their_queue_due()
    {
        var h = await NewStoreAsync(o => o.BackoffInitial = TimeSpan.FromSeconds(5));
        await EnqueueManyAsync(h, 2);
        await FirstVisitAsync(h);
        var tasks = await ClaimAllAsync(h, TimeSpan.FromMinutes(5));

        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, tasks[0]));
        var retryDue = (await SnapshotAsync(h, tasks[0].Id)).DueAt!.Value.ToUnixTimeMilliseconds();
        Assert.Equal(retryDue, await DueAtAsync(h));

        var before = await NowMsAsync(h);
        Assert.Equal(1, await h.Store.ShortenLeasesAsync(h.Queue, [new LeaseRef(tasks[1].Id, tasks[1].LeaseToken)], TimeSpan.FromSeconds(2)));
        Assert.InRange(await DueAtAsync(h) ?? 0, before + 2000.0, (await NowMsAsync(h)) + 2000.0);
    }

    [Fact]
    public async Task A_dead_letter_marks_its_queue_due_when_it_outlives_its_age_and_the_visit_trims_it()
    {
        var h = await NewStoreAsync(o => o.DeadLetterMaxAge = TimeSpan.FromHours(1));
        await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 1 });
        await FirstVisitAsync(h);
        var task = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, task));
        var deadAt = (await SnapshotAsync(h, task.Id)).FinishedAt!.Value.ToUnixTimeMilliseconds();

        // Still due at the lease's deadline (a lower bound: settling a lease does not move it); that visit moves it on.
        Assert.Equal(task.LeaseDeadline.ToUnixTimeMilliseconds(), await DueAtAsync(h));
        h.Advance(Lease + TimeSpan.FromSeconds(1));
        await h.Store.ReapAsync(h.Queue, 100);
        Assert.Equal(deadAt + 3_600_000, await DueAtAsync(h));
        h.Advance(TimeSpan.FromHours(1));
        Assert.True(await IsDueAsync(h));
        await h.Store.PromoteAsync(h.Queue);

        Assert.Equal(0, (await h.Store.GetCountsAsync(h.Queue)).DeadLettered);
        Assert.False(await IsDueAsync(h));
    }

    [Fact]
    public async Task A_visit_moves_the_queue_on_to_its_next_due_time_so_a_queue_with_nothing_due_is_not_named_again()
    {
        var h = await NewStoreAsync(o => (o.BackoffInitial, o.BackoffMax) = (TimeSpan.FromHours(1), TimeSpan.FromHours(1)));
        await EnqueueManyAsync(h, 2);
        await FirstVisitAsync(h);
        var first = await ClaimOneAsync(h, TimeSpan.FromSeconds(10));
        h.Advance(TimeSpan.FromSeconds(5));
        var second = await ClaimOneAsync(h, TimeSpan.FromSeconds(10));
        h.Advance(TimeSpan.FromSeconds(6));

        // The first lease expired: the queue is due; the reaper's visit takes it back (a retry an hour away) and moves the
        // queue on to the second lease.
        Assert.True(await IsDueAsync(h));
        Assert.Single(await h.Store.ReapAsync(h.Queue, 100));
        Assert.Equal(second.LeaseDeadline.ToUnixTimeMilliseconds(), await DueAtAsync(h));
        Assert.False(await IsDueAsync(h));

        // Once everything finished, the queue keeps only its finished tasks: it is due again when they expire (24 h).
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, second));
        Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(first.Id)).Result);
        h.Advance(TimeSpan.FromSeconds(5));
        Assert.True(await IsDueAsync(h));
        await h.Store.ReapAsync(h.Queue, 100);
        Assert.InRange(await DueAtAsync(h) ?? 0, await NowMsAsync(h) + TimeSpan.FromHours(23).TotalMilliseconds, double.MaxValue);
        Assert.False(await IsDueAsync(h));
    }

    [Fact]
    public async Task A_visit_finding_a_full_batch_leaves_the_queue_due_for_the_next()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 3);
        await ClaimAllAsync(h, TimeSpan.FromSeconds(1));
        h.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(2, (await h.Store.ReapAsync(h.Queue, 2)).Count);
        Assert.True(await IsDueAsync(h));
        Assert.Single(await h.Store.ReapAsync(h.Queue, 2));
    }

    // A new queue is marked due at once when it is registered; its first visit moves it on to what it holds.
    private static async Task FirstVisitAsync(StoreHarness h)
    {
        Assert.True(await IsDueAsync(h));
        await h.Store.PromoteAsync(h.Queue);
    }

    private static async Task<double?> DueAtAsync(StoreHarness h) => await h.Db.SortedSetScoreAsync(h.Keys.DueIndex(h.Queue), h.Queue);

    // Whether the index names the queue as due now (by the harness's clock), as the background loops read it.
    private static async Task<bool> IsDueAsync(StoreHarness h) =>
        (await h.Store.GetDueQueuesAsync(1_000_000)).Queues.Contains(h.Queue);
}
