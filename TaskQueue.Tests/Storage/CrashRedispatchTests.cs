using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker;
using TaskQueue.Broker.Explain;
using TaskQueue.Broker.Listing;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using TaskQueue.Tests.Listing;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// A crashed worker's tasks (their leases ran out: reap.lua) go back ahead of newer work in their lane, without a
/// backoff, the attempt counted (lib/settle.lua's settle_crash, claim.lua's reclaimed entries).
/// </summary>
public class CrashRedispatchTests : StoreTests
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_crashed_workers_task_starts_before_tasks_submitted_after_it()
    {
        var h = await NewStoreAsync(o => o.BackoffInitial = TimeSpan.FromMinutes(1));
        var crashed = await CrashedAsync(h, 2);
        var newer = (await EnqueueManyAsync(h, 3)).Select(r => r.Id).ToList();
        h.Advance(Short + TimeSpan.FromSeconds(1));

        Assert.All(await h.Store.ReapAsync(h.Queue, 10), r => Assert.Equal(TransitionResult.Retrying, r.Outcome));
        var order = await ClaimAllOneByOneAsync(h);

        Assert.Equal([.. crashed.Select(t => t.Id), .. newer], order.Select(t => t.Id));
        Assert.Equal([2, 2, 1, 1, 1], order.Select(t => t.Attempt));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_crashed_workers_task_is_ready_at_once_without_a_backoff_and_keeps_its_stream_entry()
    {
        var h = await NewStoreAsync(o => o.BackoffInitial = TimeSpan.FromMinutes(1));
        var task = Assert.Single(await CrashedAsync(h, 1));
        var sid = (string?)await h.Db.HashGetAsync(RedisKeys.Task(task.Id), TaskFields.StreamEntry);
        h.Advance(Short + TimeSpan.FromSeconds(1));

        var reaped = Assert.Single(await h.Store.ReapAsync(h.Queue, 10));

        Assert.Equal((TransitionResult.Retrying, "crashed-worker", 1), (reaped.Outcome, reaped.WorkerId, reaped.Attempt));
        var snapshot = await SnapshotAsync(h, task.Id);
        Assert.Equal((TaskState.Ready, "lease expired", 1), (snapshot.State, snapshot.LastError, snapshot.Attempt));
        Assert.Equal(sid, (string?)await h.Db.HashGetAsync(RedisKeys.Task(task.Id), TaskFields.StreamEntry));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1L, 0L, 0L, 1L, 1L), (counts.Ready, counts.Leased, counts.Scheduled, counts.Failed, counts.Retried));
        await AssertConsistentAsync(h);
        var again = await ClaimOneAsync(h); // no clock advance, no promoter
        Assert.Equal((task.Id, 2), (again.Id, again.Attempt));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, again));
        await AssertConsistentAsync(h);
        Assert.Equal(0, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 0, "echo")));
    }

    [Fact]
    public async Task A_task_that_keeps_crashing_workers_is_dead_lettered_at_its_last_attempt()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 2 })).Id;
        var outcomes = new List<TransitionResult>();
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            Assert.Equal(attempt, (await ClaimOneAsync(h, Short)).Attempt);
            h.Advance(Short + TimeSpan.FromSeconds(1));
            outcomes.Add(Assert.Single(await h.Store.ReapAsync(h.Queue, 10)).Outcome);
        }

        Assert.Equal([TransitionResult.Retrying, TransitionResult.DeadLettered], outcomes);
        var snapshot = await SnapshotAsync(h, id);
        Assert.Equal((TaskState.DeadLettered, "lease expired", 2), (snapshot.State, snapshot.LastError, snapshot.Attempt));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w", 10, Lease)).Tasks);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_crashed_workers_task_whose_cancel_was_requested_ends_cancelled()
    {
        var h = await NewStoreAsync();
        var task = Assert.Single(await CrashedAsync(h, 1));
        Assert.Equal(TransitionResult.CancelRequested, (await h.Store.CancelAsync(task.Id)).Result);
        h.Advance(Short + TimeSpan.FromSeconds(1));

        Assert.Equal(TransitionResult.Cancelled, Assert.Single(await h.Store.ReapAsync(h.Queue, 10)).Outcome);
        Assert.Equal(TaskState.Cancelled, (await SnapshotAsync(h, task.Id)).State);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_reclaimed_task_can_be_cancelled_and_the_next_claim_forgets_the_lanes_reclaimed_work()
    {
        var h = await NewStoreAsync();
        var task = Assert.Single(await CrashedAsync(h, 1));
        var newer = (await h.Store.EnqueueAsync(h.Task())).Id;
        h.Advance(Short + TimeSpan.FromSeconds(1));
        Assert.Single(await h.Store.ReapAsync(h.Queue, 10));
        Assert.True(await h.Db.KeyExistsAsync(RedisKeys.Front(h.Queue)));

        Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(task.Id)).Result);
        await AssertConsistentAsync(h);
        var next = await ClaimOneAsync(h);

        Assert.Equal(newer, next.Id);
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Front(h.Queue)));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w", 10, Lease)).Tasks);
    }

    [Fact]
    public async Task Reclaimed_work_stays_in_its_priority_and_task_types_lane()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task("resize") with { Priority = 3 });
        var crashed = Assert.Single((await h.Store.ClaimAsync(h.Queue, "crashed-worker", ["resize"], 1, Short)).Tasks);
        var high = (await h.Store.EnqueueAsync(h.Task("resize") with { Priority = 9 })).Id;
        var newer = (await h.Store.EnqueueAsync(h.Task("resize") with { Priority = 3 })).Id;
        h.Advance(Short + TimeSpan.FromSeconds(1));
        Assert.Single(await h.Store.ReapAsync(h.Queue, 10));

        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "e", ["echo"], 5, Lease)).Tasks);
        var order = new List<TaskId>();
        for (var i = 0; i < 3; i++)
        {
            order.Add(Assert.Single((await h.Store.ClaimAsync(h.Queue, "r", ["resize"], 1, Lease)).Tasks).Id);
        }

        Assert.Equal([high, crashed.Id, newer], order);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task An_execution_timeout_is_still_a_failure_with_a_backoff()
    {
        var h = await NewStoreAsync(o => o.BackoffInitial = TimeSpan.FromMinutes(1));
        await h.Store.EnqueueAsync(h.Task() with { ExecutionTimeout = TimeSpan.FromSeconds(1) });
        var task = await ClaimOneAsync(h);
        h.Advance(TimeSpan.FromSeconds(1) + BrokerOptions.DefaultExecutionTimeoutGrace + TimeSpan.FromSeconds(1));

        var renew = await h.Store.RenewAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)], Lease);

        Assert.Equal([TransitionResult.TimedOut], renew.Results);
        Assert.Equal(TaskState.Scheduled, (await SnapshotAsync(h, task.Id)).State);
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Front(h.Queue)));
    }

    [Fact]
    public async Task Reaping_a_crashed_workers_task_wakes_every_brokers_dispatchers()
    {
        var h = await NewStoreAsync();
        await CrashedAsync(h, 1);
        h.Advance(Short + TimeSpan.FromSeconds(1));
        var announced = new List<string>();
        var subscriber = h.Redis.Connection.GetSubscriber();
        var channel = RedisChannel.Literal(RedisKeys.ReadyChannel);
        await subscriber.SubscribeAsync(channel, (_, message) => { lock (announced) { announced.Add(message!); } });
        try
        {
            Assert.Single(await h.Store.ReapAsync(h.Queue, 10));

            await Eventually.TrueAsync(() => { lock (announced) { return announced.Contains(h.Queue); } }, TimeSpan.FromSeconds(5), "the ready announcement", Poll);
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel);
        }
    }

    [Fact]
    public async Task A_reclaimed_task_is_listed_and_explained_where_claims_take_it()
    {
        var h = await NewStoreAsync();
        var crashed = await CrashedAsync(h, 2);
        var newer = (await EnqueueManyAsync(h, 3)).Select(r => r.Id).ToList();
        h.Advance(Short + TimeSpan.FromSeconds(1));
        Assert.Equal(2, (await h.Store.ReapAsync(h.Queue, 10)).Count);
        var lister = new TaskLister(h.Redis.Connection);
        var explainer = new TaskExplainer(h.Store, new WorkerRegistry(h.Redis.Connection), h.Redis.Connection, Options.Create(new BrokerOptions()), TimeProvider.System);

        var oldest = await ListTasksTests.AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Ready) { OldestFirst = true, Limit = 2 });
        var newest = await ListTasksTests.AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Ready) { Limit = 2 });
        var ahead = new List<long>();
        foreach (var id in oldest.Select(t => t.Id))
        {
            ahead.Add((await explainer.ExplainAsync(id, CancellationToken.None))!.Ahead);
        }

        List<TaskId> claimOrder = [.. crashed.Select(t => t.Id), .. newer];
        Assert.Equal(claimOrder, oldest.Select(t => t.Id));
        Assert.Equal(Enumerable.Reverse(claimOrder), newest.Select(t => t.Id));
        Assert.Equal([0L, 1L, 2L, 3L, 4L], ahead);
        Assert.Equal(claimOrder, (await ClaimAllOneByOneAsync(h)).Select(t => t.Id));
    }

    /// <summary>Submits tasks and leases them, for a short lease, to a worker that then never reports.</summary>
    private static async Task<List<LeasedTask>> CrashedAsync(StoreHarness h, int count)
    {
        await EnqueueManyAsync(h, count);
        return [.. (await h.Store.ClaimAsync(h.Queue, "crashed-worker", count, Short)).Tasks];
    }

    private static async Task<List<LeasedTask>> ClaimAllOneByOneAsync(StoreHarness h)
    {
        var all = new List<LeasedTask>();
        while ((await h.Store.ClaimAsync(h.Queue, "w", 1, Lease)).Tasks is [var task])
        {
            all.Add(task);
        }

        return all;
    }
}
