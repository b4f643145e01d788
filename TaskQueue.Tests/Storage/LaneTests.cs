using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// Ready work lives in lanes, one stream per priority and task type: a claim reads only the lanes of the
/// types its worker handles, every way back to ready lands in the task's own lane, and the streams of the
/// layout before lanes (one per priority, every type) still drain.
/// </summary>
public class LaneTests : StoreTests
{
    [Fact]
    public async Task A_claim_with_task_types_leases_only_those_and_leaves_the_rest_ready()
    {
        var h = await NewStoreAsync();
        var echo = await EnqueueManyAsync(h, 3, i => h.Task("echo", "e" + i));
        var sleep = await EnqueueManyAsync(h, 2, i => h.Task("sleep", "s" + i));

        var claimed = await h.Store.ClaimAsync(h.Queue, "echo-worker", ["echo", "noop"], 10, Lease);

        Assert.Equal(Sorted(echo.Select(r => r.Id)), Sorted(claimed.Tasks.Select(t => t.Id)));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "echo-worker", ["echo"], 10, Lease)).Tasks);
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "other", ["resize"], 10, Lease)).Tasks);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((2, 3), (counts.Ready, counts.Leased));
        foreach (var waiting in sleep)
        {
            Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, waiting.Id)).State);
        }

        var sleeper = await h.Store.ClaimAsync(h.Queue, "sleep-worker", ["sleep"], 10, Lease);
        Assert.Equal(Sorted(sleep.Select(r => r.Id)), Sorted(sleeper.Tasks.Select(t => t.Id)));
        Assert.Equal(2, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 0, "sleep")));
        Assert.Equal(3, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 0, "echo")));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Priority_orders_the_work_across_the_lanes_a_worker_reads()
    {
        var h = await NewStoreAsync();
        var low = (await h.Store.EnqueueAsync(h.Task("echo", "low") with { Priority = 1 })).Id;
        var high = (await h.Store.EnqueueAsync(h.Task("sleep", "high") with { Priority = 9 })).Id;
        var middle = (await h.Store.EnqueueAsync(h.Task("echo", "middle") with { Priority = 5 })).Id;
        var foreign = (await h.Store.EnqueueAsync(h.Task("resize", "highest, not handled") with { Priority = 9 })).Id;

        var filtered = new List<TaskId>();
        for (var i = 0; i < 3; i++)
        {
            filtered.Add(Assert.Single((await h.Store.ClaimAsync(h.Queue, "w", ["echo", "sleep"], 1, Lease)).Tasks).Id);
        }

        Assert.Equal([high, middle, low], filtered);
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w", ["echo", "sleep"], 1, Lease)).Tasks);
        var any = Assert.Single((await h.Store.ClaimAsync(h.Queue, "any", 5, Lease)).Tasks);
        Assert.Equal((foreign, 9), (any.Id, any.Priority));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_worker_of_every_type_takes_the_highest_priority_first_across_types()
    {
        var h = await NewStoreAsync();
        var a = (await h.Store.EnqueueAsync(h.Task("a") with { Priority = 2 })).Id;
        var b = (await h.Store.EnqueueAsync(h.Task("b") with { Priority = 7 })).Id;
        var c = (await h.Store.EnqueueAsync(h.Task("c") with { Priority = 4 })).Id;

        var claimed = await h.Store.ClaimAsync(h.Queue, "any", 10, Lease);

        Assert.Equal([b, c, a], claimed.Tasks.Select(t => t.Id));
        Assert.Equal([7, 4, 2], claimed.Tasks.Select(t => t.Priority));
    }

    [Fact]
    public async Task A_retry_without_backoff_a_hand_back_and_a_replay_go_back_into_the_tasks_own_lane()
    {
        var h = await NewStoreAsync(options => options.BackoffInitial = TimeSpan.Zero);
        var id = (await h.Store.EnqueueAsync(h.Task("sleep") with { Priority = 3, MaxAttempts = 2 })).Id;
        var otherLane = RedisKeys.Ready(h.Queue, 3, "echo");
        await h.Store.EnqueueAsync(h.Task("echo") with { Priority = 3 });
        var echo = Assert.Single((await h.Store.ClaimAsync(h.Queue, "e", ["echo"], 5, Lease)).Tasks);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, echo));

        async Task<LeasedTask> ClaimSleepAsync()
        {
            Assert.Empty((await h.Store.ClaimAsync(h.Queue, "e", ["echo"], 5, Lease)).Tasks);
            return Assert.Single((await h.Store.ClaimAsync(h.Queue, "s", ["sleep"], 5, Lease)).Tasks);
        }

        async Task AssertInOwnLaneAsync()
        {
            Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, id)).State);
            Assert.Equal(RedisKeys.Lane(3, "sleep"), (string?)await h.Db.HashGetAsync(RedisKeys.Task(id), TaskFields.Lane));
            Assert.Equal(1, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 3, "sleep")));
            Assert.Equal(0, await h.Db.StreamLengthAsync(otherLane));
            await AssertConsistentAsync(h);
        }

        var first = await ClaimSleepAsync();
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, first));
        await AssertInOwnLaneAsync();

        var second = await ClaimSleepAsync();
        Assert.Equal([TransitionResult.Ok], await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(second.Id, second.LeaseToken)]));
        await AssertInOwnLaneAsync();

        var third = await ClaimSleepAsync();
        Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, third, retryable: false));
        Assert.Equal(0, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 3, "sleep")));
        Assert.Equal(1, await h.Store.ReplayDeadLettersAsync(h.Queue, [id]));
        await AssertInOwnLaneAsync();

        var replayed = await ClaimSleepAsync();
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, replayed));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task An_expired_lease_and_a_promoted_retry_go_back_into_the_tasks_own_lane()
    {
        var h = await NewStoreAsync(options => options.BackoffInitial = TimeSpan.FromSeconds(5));
        var id = (await h.Store.EnqueueAsync(h.Task("sleep") with { Priority = 6, MaxAttempts = 5 })).Id;
        var leased = Assert.Single((await h.Store.ClaimAsync(h.Queue, "s", ["sleep"], 5, TimeSpan.FromSeconds(1))).Tasks);
        h.Advance(TimeSpan.FromSeconds(2));

        Assert.Single(await h.Store.ReapAsync(h.Queue, 10)); // a crash: ready again at once, its entry kept
        Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, id)).State);
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "e", ["echo"], 5, Lease)).Tasks);
        Assert.Equal(1, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 6, "sleep")));
        await AssertConsistentAsync(h);
        var again = Assert.Single((await h.Store.ClaimAsync(h.Queue, "s", ["sleep"], 5, Lease)).Tasks);
        Assert.Equal((leased.Id, 2), (again.Id, again.Attempt));

        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, again));
        Assert.Equal(TaskState.Scheduled, (await SnapshotAsync(h, id)).State);
        h.Advance(TimeSpan.FromMinutes(2));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "e", ["echo"], 5, Lease)).Tasks); // promotes it, leases nothing

        Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, id)).State);
        Assert.Equal(1, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 6, "sleep")));
        await AssertConsistentAsync(h);
        var third = Assert.Single((await h.Store.ClaimAsync(h.Queue, "s", ["sleep"], 5, Lease)).Tasks);
        Assert.Equal((leased.Id, 3), (third.Id, third.Attempt));
    }

    [Fact]
    public async Task A_claim_that_promotes_work_for_other_workers_wakes_the_dispatchers()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task("sleep") with { Delay = TimeSpan.FromSeconds(1) });
        var woken = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = h.Redis.Connection.GetSubscriber();
        void OnReady(RedisChannel channel, RedisValue queue)
        {
            if (queue == h.Queue)
            {
                woken.TrySetResult(queue!);
            }
        }

        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.ReadyChannel), OnReady);
        try
        {
            h.Advance(TimeSpan.FromSeconds(2));
            var claim = await h.Store.ClaimAsync(h.Queue, "e", ["echo"], 5, Lease);

            Assert.Equal((1, 0), (claim.Promoted, claim.Tasks.Count));
            Assert.Equal(h.Queue, await woken.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            await subscriber.UnsubscribeAsync(RedisChannel.Literal(RedisKeys.ReadyChannel), OnReady);
        }
    }

    [Fact]
    public async Task A_stream_of_the_layout_before_lanes_is_still_drained_by_every_worker()
    {
        var h = await NewStoreAsync();
        var echo = await EnqueueOldLayoutAsync(h, h.Task("echo", "old echo") with { Priority = 3 });
        var sleep = await EnqueueOldLayoutAsync(h, h.Task("sleep", "old sleep") with { Priority = 3 });
        var cancelled = await EnqueueOldLayoutAsync(h, h.Task("echo", "old, cancelled") with { Priority = 3 });
        var legacy = RedisKeys.Ready(h.Queue, 3);
        Assert.Equal(3, (await h.Store.GetCountsAsync(h.Queue)).Ready);
        await AssertConsistentAsync(h);

        Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(cancelled)).Result);
        // A worker that handles only one type leases that one from the old stream and moves the other to its lane.
        var sleeper = Assert.Single((await h.Store.ClaimAsync(h.Queue, "s", ["sleep"], 5, Lease)).Tasks);
        Assert.Equal((sleep, 3), (sleeper.Id, sleeper.Priority));
        Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, echo)).State);
        Assert.Equal(1, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 3, "echo")));
        await AssertConsistentAsync(h);

        var echoed = Assert.Single((await h.Store.ClaimAsync(h.Queue, "e", ["echo"], 5, Lease)).Tasks);
        Assert.Equal(echo, echoed.Id);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, echoed));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, sleeper));

        Assert.Equal(0, await h.Db.StreamLengthAsync(legacy));
        Assert.Equal(0, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 3, "echo")));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, 0, 2), (counts.Ready, counts.Leased, counts.Completed));
        await AssertConsistentAsync(h);

        // Drained, the old stream is retired by the next claim that reads it: claims stop paying for it.
        Assert.True(await h.Db.SetContainsAsync(RedisKeys.Levels(h.Queue), "3"));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "any", 5, Lease)).Tasks);
        Assert.False(await h.Db.SetContainsAsync(RedisKeys.Levels(h.Queue), "3"));
        Assert.False(await h.Db.KeyExistsAsync(legacy));
        Assert.True(await h.Db.KeyExistsAsync(RedisKeys.Ready(h.Queue, 3, "echo")));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_task_leased_from_a_stream_of_the_layout_before_lanes_settles_there()
    {
        var h = await NewStoreAsync(options => options.BackoffInitial = TimeSpan.Zero);
        var id = await EnqueueOldLayoutAsync(h, h.Task("sleep") with { Priority = 2, MaxAttempts = 3 });
        var leased = Assert.Single((await h.Store.ClaimAsync(h.Queue, "any", 5, Lease)).Tasks);
        Assert.Equal(id, leased.Id);
        Assert.Equal(1, (await h.Db.StreamPendingAsync(RedisKeys.Ready(h.Queue, 2), "tq")).PendingMessageCount);

        // Its retry goes to its lane; the old stream's delivered entry is acknowledged and deleted.
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, leased));
        Assert.Equal(0, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 2)));
        Assert.Equal(1, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 2, "sleep")));
        await AssertConsistentAsync(h);
        var again = Assert.Single((await h.Store.ClaimAsync(h.Queue, "s", ["sleep"], 5, Lease)).Tasks);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, again));
        await AssertConsistentAsync(h);
    }

    /// <summary>
    /// Enqueues a task, then rewrites it as the layout before lanes stored it: its entry in its priority's
    /// stream ("ready:&lt;priority&gt;", named by the priority alone in the lanes set) and no lane field.
    /// </summary>
    private static async Task<TaskId> EnqueueOldLayoutAsync(StoreHarness h, NewTask task)
    {
        var id = (await h.Store.EnqueueAsync(task)).Id;
        var key = RedisKeys.Task(id);
        var lane = (string)(await h.Db.HashGetAsync(key, TaskFields.Lane))!;
        var sid = (string)(await h.Db.HashGetAsync(key, TaskFields.StreamEntry))!;
        await h.Db.StreamDeleteAsync(RedisKeys.ReadyLane(h.Queue, lane), [sid]);
        var legacy = RedisKeys.Ready(h.Queue, task.Priority);
        if (await h.Db.SetAddAsync(RedisKeys.Levels(h.Queue), task.Priority))
        {
            await h.Db.StreamCreateConsumerGroupAsync(legacy, "tq", "0", createStream: true);
        }

        var entry = await h.Db.StreamAddAsync(legacy, "id", id.LocalId);
        await h.Db.HashSetAsync(key, TaskFields.StreamEntry, entry);
        await h.Db.HashDeleteAsync(key, TaskFields.Lane);
        return id;
    }
}
