using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

public class CancelTests : StoreTests
{
    [Fact]
    public async Task Cancelling_a_ready_task_cancels_it_at_once_and_removes_its_stream_entry()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { Priority = 7 })).Id;
        var other = (await h.Store.EnqueueAsync(h.Task() with { Priority = 7 })).Id;

        var cancel = await h.Store.CancelAsync(id);

        Assert.Equal((TransitionResult.Cancelled, null), (cancel.Result, cancel.WorkerId));
        var snapshot = await SnapshotAsync(h, id);
        Assert.Equal(TaskState.Cancelled, snapshot.State);
        Assert.NotNull(snapshot.FinishedAt);
        Assert.Equal(1, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 7, "echo")));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 1), (counts.Ready, counts.Cancelled));
        await AssertConsistentAsync(h);
        Assert.Equal([other], (await ClaimAllAsync(h)).Select(t => t.Id));
    }

    [Fact]
    public async Task Cancelling_a_scheduled_task_cancels_it_and_it_never_becomes_ready()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromMinutes(1) })).Id;

        Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(id)).Result);

        Assert.Equal(TaskState.Cancelled, (await SnapshotAsync(h, id)).State);
        Assert.Null(await h.Db.SortedSetScoreAsync(RedisKeys.Scheduled(h.Queue), id.LocalId));
        await AssertConsistentAsync(h);
        h.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(0, (await h.Store.PromoteAsync(h.Queue)).Promoted);
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);
        Assert.Equal(TaskState.Cancelled, (await SnapshotAsync(h, id)).State);
    }

    [Fact]
    public async Task Cancelling_a_leased_task_requests_cancellation_from_its_worker()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h, worker: "worker-7");

        var first = await h.Store.CancelAsync(task.Id);
        var second = await h.Store.CancelAsync(task.Id);

        Assert.Equal((TransitionResult.CancelRequested, "worker-7"), (first.Result, first.WorkerId));
        Assert.Equal((TransitionResult.CancelRequested, "worker-7"), (second.Result, second.WorkerId));
        var snapshot = await SnapshotAsync(h, task.Id);
        Assert.Equal((TaskState.Leased, true, task.LeaseToken), (snapshot.State, snapshot.CancelRequested, snapshot.LeaseToken));
        Assert.Equal(0, (await h.Store.GetCountsAsync(h.Queue)).Cancelled);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_cancel_requested_task_whose_owner_reports_failure_ends_cancelled_not_retried()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 5 });
        var task = await ClaimOneAsync(h);
        await h.Store.CancelAsync(task.Id);

        Assert.Equal(TransitionResult.Cancelled, await FailAsync(h, task, "stopped", retryable: true));

        await AssertEndedCancelledAsync(h, task.Id);
    }

    [Fact]
    public async Task A_cancel_requested_task_whose_owner_releases_it_ends_cancelled()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);
        await h.Store.CancelAsync(task.Id);

        Assert.Equal([TransitionResult.Cancelled], await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)]));

        await AssertEndedCancelledAsync(h, task.Id);
    }

    [Fact]
    public async Task A_cancel_requested_task_whose_lease_expires_is_reaped_as_cancelled()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 5 });
        var task = await ClaimOneAsync(h, TimeSpan.FromSeconds(5), worker: "gone");
        await h.Store.CancelAsync(task.Id);
        h.Advance(TimeSpan.FromSeconds(6));

        var reaped = Assert.Single(await h.Store.ReapAsync(h.Queue, 10));

        Assert.Equal((task.Id, "gone", TransitionResult.Cancelled), (reaped.Id, reaped.WorkerId, reaped.Outcome));
        await AssertEndedCancelledAsync(h, task.Id);
    }

    [Fact]
    public async Task A_cancel_requested_task_that_completes_anyway_is_completed()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);
        await h.Store.CancelAsync(task.Id);

        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task));

        Assert.Equal(TaskState.Completed, (await SnapshotAsync(h, task.Id)).State);
        Assert.Equal(TransitionResult.AlreadyFinished, (await h.Store.CancelAsync(task.Id)).Result);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Cancelling_a_finished_task_reports_already_finished_and_changes_nothing()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 2);
        var completed = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, completed));
        var dead = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, dead, retryable: false));
        var expired = (await h.Store.EnqueueAsync(h.Task() with { ExpiresAfter = TimeSpan.FromSeconds(1) })).Id;
        h.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, (await h.Store.ClaimAsync(h.Queue, "w1", 1, Lease)).Expired);
        var before = await FingerprintAsync(h);

        var results = new[]
        {
            await h.Store.CancelAsync(completed.Id),
            await h.Store.CancelAsync(dead.Id),
            await h.Store.CancelAsync(expired),
        };

        Assert.All(results, r => Assert.Equal((TransitionResult.AlreadyFinished, null), (r.Result, r.WorkerId)));
        Assert.Equal(before, await FingerprintAsync(h));
    }

    [Fact]
    public async Task Cancelling_an_unknown_task_reports_not_found()
    {
        var h = await NewStoreAsync();

        var cancel = await h.Store.CancelAsync(TaskId.New(h.Queue));

        Assert.Equal(TransitionResult.NotFound, cancel.Result);
        Assert.Empty(await h.QueueKeysAsync());
    }

    [Fact]
    public async Task Cancelling_twice_reports_cancelled_both_times_and_counts_once()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;

        var first = await h.Store.CancelAsync(id);
        var before = await FingerprintAsync(h);
        var second = await h.Store.CancelAsync(id);

        Assert.Equal((TransitionResult.Cancelled, TransitionResult.Cancelled), (first.Result, second.Result));
        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal(1, (await h.Store.GetCountsAsync(h.Queue)).Cancelled);
    }

    private static async Task AssertEndedCancelledAsync(StoreHarness h, TaskId id)
    {
        var snapshot = await SnapshotAsync(h, id);
        Assert.Equal((TaskState.Cancelled, null), (snapshot.State, snapshot.LeaseToken));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, 0, 0, 0, 1, 0), (counts.Ready, counts.Leased, counts.Scheduled, counts.DeadLettered, counts.Cancelled, counts.Retried));
        await AssertConsistentAsync(h);
        h.Advance(TimeSpan.FromHours(1));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);
        Assert.Equal(TaskState.Cancelled, (await SnapshotAsync(h, id)).State);
    }
}
