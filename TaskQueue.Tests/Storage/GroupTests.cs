using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// Groups (lib/groups.lua): within a priority level a claim goes round-robin across the groups with ready work,
/// skips a group at its concurrency limit or without a token of its rate limit, counts each group's leases
/// exactly, and retires a group's lane once it is empty.
/// </summary>
public class GroupTests : StoreTests
{
    private static NewTask InGroup(StoreHarness h, string group, string payload = "x") => h.Task("echo", payload) with { Group = group };

    private static async Task<List<TaskId>> SubmitAsync(StoreHarness h, string group, int count) =>
        [.. (await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, count).Select(i => InGroup(h, group, group + i))])).Select(r => r.Id)];

    private static async Task<string> GroupOfAsync(StoreHarness h, TaskId id) =>
        (string)(await h.Db.HashGetAsync(RedisKeys.Task(id), TaskFields.Group))!;

    private static Task SetFlowAsync(StoreHarness h, params HashEntry[] fields) => h.Db.HashSetAsync(RedisKeys.Flow(h.Queue), fields);

    [Fact]
    public async Task A_big_groups_backlog_does_not_starve_a_small_group_submitted_after_it()
    {
        var h = await NewStoreAsync();
        await SubmitAsync(h, "big", 200);
        var small = await SubmitAsync(h, "small", 5);

        // One-slot claims, as a busy worker makes them: the groups alternate.
        var order = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            order.Add(await GroupOfAsync(h, (await ClaimOneAsync(h)).Id));
        }

        Assert.Equal(["big", "small", "big", "small", "big", "small", "big", "small", "big", "small"], order);
        var rest = await ClaimAllAsync(h);
        Assert.Equal(195, rest.Count);
        Assert.DoesNotContain(rest, t => small.Contains(t.Id));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task One_claim_of_many_takes_a_task_from_each_group_in_turn()
    {
        var h = await NewStoreAsync();
        await SubmitAsync(h, "a", 5);
        await SubmitAsync(h, "b", 5);
        await SubmitAsync(h, "c", 1);
        var plain = (await h.Store.EnqueueAsync(h.Task("echo", "no group"))).Id;

        var claimed = await h.Store.ClaimAsync(h.Queue, "w", 7, Lease);

        var groups = new List<string>();
        foreach (var task in claimed.Tasks)
        {
            groups.Add(task.Id == plain ? "" : await GroupOfAsync(h, task.Id));
        }

        // The tasks without a group take their turn as the group '' (first, as a lane that just came back).
        Assert.Equal(["", "a", "b", "c", "a", "b", "a"], groups);
        Assert.Equal(ClaimHold.None, claimed.Hold);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_claim_wanting_more_than_there_are_groups_gives_each_an_equal_share_per_round_and_later_claims_carry_on_the_turns()
    {
        var h = await StoreHarness.CreateAsync();
        await SubmitAsync(h, "a", 10);
        await SubmitAsync(h, "b", 10);
        await SubmitAsync(h, "c", 2);

        // 12 wanted over 3 groups: a share of 4 each (c has only 2 and leaves the rotation), then 1 each in a second
        // round over the two groups left.
        var claimed = await h.Store.ClaimAsync(h.Queue, "w", 12, Lease);
        var groups = new List<string>();
        foreach (var task in claimed.Tasks)
        {
            groups.Add(await GroupOfAsync(h, task.Id));
        }

        Assert.Equal(["a", "a", "a", "a", "b", "b", "b", "b", "c", "c", "a", "b"], groups);
        Assert.Null(await h.Db.SortedSetScoreAsync(RedisKeys.Rotation(h.Queue, 0, "echo"), "c"));

        // The turns the claim gave stand: one-slot claims go on with a, then b, in turn.
        var next = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            next.Add(await GroupOfAsync(h, (await ClaimOneAsync(h)).Id));
        }

        Assert.Equal(["a", "b", "a", "b"], next);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_claim_stopped_by_its_bound_of_group_visits_keeps_the_turns_it_gave_so_the_next_claim_starts_where_it_stopped()
    {
        var h = await StoreHarness.CreateAsync();
        // 1,001 groups of 2 tasks: a claim visits at most 1,000 groups, then asks to be called again at once.
        for (var start = 0; start < 1001; start += 500)
        {
            await h.Store.EnqueueBatchAsync([.. Enumerable.Range(start, Math.Min(500, 1001 - start)).SelectMany(g => new[] { InGroup(h, "g" + g), InGroup(h, "g" + g) })]);
        }

        var first = await h.Store.ClaimAsync(h.Queue, "w", 1001, Lease);
        Assert.Equal(1000, first.Tasks.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(1), first.Hold.RetryAfter);
        var served = new HashSet<string>(StringComparer.Ordinal);
        foreach (var task in first.Tasks)
        {
            Assert.True(served.Add(await GroupOfAsync(h, task.Id)));
        }

        // The one group not reached goes first now; then the groups served, in the order they were served.
        var next = await h.Store.ClaimAsync(h.Queue, "w", 3, Lease);
        var order = new List<string>();
        foreach (var task in next.Tasks)
        {
            order.Add(await GroupOfAsync(h, task.Id));
        }

        Assert.Equal(["g1000", await GroupOfAsync(h, first.Tasks[0].Id), await GroupOfAsync(h, first.Tasks[1].Id)], order);
        Assert.Equal(1001, await h.Db.HashLengthAsync(RedisKeys.GroupLeased(h.Queue)));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Round_robin_is_within_a_priority_level_and_higher_priority_groups_go_first()
    {
        var h = await NewStoreAsync();
        var low = (await h.Store.EnqueueAsync(InGroup(h, "a") with { Priority = 1 })).Id;
        var high = await h.Store.EnqueueBatchAsync([InGroup(h, "a") with { Priority = 8 }, InGroup(h, "b") with { Priority = 8 }]);

        var claimed = await h.Store.ClaimAsync(h.Queue, "w", 3, Lease);

        Assert.Equal([high[0].Id, high[1].Id, low], claimed.Tasks.Select(t => t.Id));
        Assert.Equal([8, 8, 1], claimed.Tasks.Select(t => t.Priority));
    }

    [Fact]
    public async Task A_group_at_its_concurrency_limit_is_skipped_and_counts_down_exactly_as_leases_end()
    {
        var h = await NewStoreAsync(options => options.BackoffInitial = TimeSpan.Zero);
        await SetFlowAsync(h, new HashEntry(FlowFields.GroupConcurrency, 2));
        await SubmitAsync(h, "a", 6);
        var b = await SubmitAsync(h, "b", 6);
        // An override: group b takes one at a time.
        await h.Db.HashSetAsync(RedisKeys.FlowGroups(h.Queue), "b", "1 - -");

        var first = await h.Store.ClaimAsync(h.Queue, "w", 10, Lease);
        Assert.Equal(3, first.Tasks.Count);
        Assert.Equal(1, first.Tasks.Count(t => b.Contains(t.Id)));
        Assert.Equal(ClaimHold.UntilReleased, first.Hold);
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w", 10, Lease)).Tasks);
        Assert.Equal(2, (int)await h.Db.HashGetAsync(RedisKeys.GroupLeased(h.Queue), "a"));
        Assert.Equal(1, (int)await h.Db.HashGetAsync(RedisKeys.GroupLeased(h.Queue), "b"));

        // Every way a lease ends frees a slot of its group: complete, fail (retried at once), hand back, crash.
        var ofA = first.Tasks.Where(t => !b.Contains(t.Id)).ToList();
        var ofB = first.Tasks.Single(t => b.Contains(t.Id));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, ofA[0]));
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, ofA[1]));
        Assert.Equal([TransitionResult.Ok], await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(ofB.Id, ofB.LeaseToken)]));
        Assert.False(await h.Db.HashExistsAsync(RedisKeys.GroupLeased(h.Queue), "b"));

        var second = await h.Store.ClaimAsync(h.Queue, "w", 10, TimeSpan.FromSeconds(1));
        Assert.Equal(3, second.Tasks.Count);
        Assert.Equal(1, second.Tasks.Count(t => b.Contains(t.Id)));

        h.Advance(TimeSpan.FromSeconds(2));
        Assert.All(await h.Store.ReapAsync(h.Queue, 10), r => Assert.Equal(TransitionResult.Retrying, r.Outcome));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.GroupLeased(h.Queue)));
        Assert.Equal(3, (await h.Store.ClaimAsync(h.Queue, "w", 10, Lease)).Tasks.Count);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_group_without_a_token_is_held_for_the_time_until_its_next_one_and_others_are_served()
    {
        var h = await NewStoreAsync();
        // 2 tasks a second, a burst of 3, for every group; group free has no rate limit.
        await SetFlowAsync(h, new HashEntry(FlowFields.GroupRate, 2), new HashEntry(FlowFields.GroupBurst, 3));
        await h.Db.HashSetAsync(RedisKeys.FlowGroups(h.Queue), "free", "- 0 -");
        var limited = await SubmitAsync(h, "limited", 10);
        await SubmitAsync(h, "free", 10);

        var burst = await h.Store.ClaimAsync(h.Queue, "w", 20, Lease);
        Assert.Equal(3, burst.Tasks.Count(t => limited.Contains(t.Id)));
        Assert.Equal(10, burst.Tasks.Count(t => !limited.Contains(t.Id)));
        Assert.True(burst.Hold.Held);
        // The next token comes in half a second (Redis's clock moved on a little since the claim).
        Assert.InRange(burst.Hold.RetryAfter!.Value, TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(500));

        h.Advance(TimeSpan.FromMilliseconds(1100));
        var refilled = await h.Store.ClaimAsync(h.Queue, "w", 20, Lease);
        Assert.Equal(2, refilled.Tasks.Count);

        h.Advance(TimeSpan.FromSeconds(60));
        // A full bucket is no key: the group's tokens never exceed its burst, however long it waited.
        Assert.Equal(3, (await h.Store.ClaimAsync(h.Queue, "w", 20, Lease)).Tasks.Count);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task An_empty_groups_lane_and_its_place_in_the_rotation_are_deleted_so_an_idle_group_costs_nothing()
    {
        var h = await NewStoreAsync();
        var tasks = await SubmitAsync(h, "tenant-1", 2);
        var lane = RedisKeys.Lane(0, "echo", "tenant-1");
        Assert.Equal(2, await h.Db.SortedSetLengthAsync(RedisKeys.GroupReady(h.Queue, lane)));
        Assert.False(await h.Db.SetContainsAsync(RedisKeys.Levels(h.Queue), lane));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.ReadyLane(h.Queue, lane)));

        var claimed = await ClaimAllAsync(h);
        Assert.Equal(2, claimed.Count);
        // Out of the rotation (no ready work), and its lane is gone: a leased task holds no entry in it.
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Rotation(h.Queue, 0, "echo")));
        Assert.False(await h.Db.HashExistsAsync(RedisKeys.Rotations(h.Queue), RedisKeys.Lane(0, "echo")));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.GroupReady(h.Queue, lane)));
        await AssertConsistentAsync(h);

        foreach (var task in claimed)
        {
            Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task));
        }

        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.GroupLeased(h.Queue)));
        Assert.Equal(TaskState.Completed, (await SnapshotAsync(h, tasks[0])).State);

        // The group comes back: its lane is made again.
        var again = (await h.Store.EnqueueAsync(InGroup(h, "tenant-1"))).Id;
        Assert.Equal(again, (await ClaimOneAsync(h)).Id);
    }

    [Fact]
    public async Task A_crashed_workers_group_task_goes_back_into_its_groups_turn_ahead_of_its_newer_work()
    {
        var h = await NewStoreAsync();
        var first = (await h.Store.EnqueueAsync(InGroup(h, "g", "first"))).Id;
        var crashed = await h.Store.ClaimAsync(h.Queue, "w", 1, TimeSpan.FromSeconds(1));
        Assert.Equal(first, Assert.Single(crashed.Tasks).Id);
        var newer = (await h.Store.EnqueueAsync(InGroup(h, "g", "newer"))).Id;

        h.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TransitionResult.Retrying, Assert.Single(await h.Store.ReapAsync(h.Queue, 10)).Outcome);

        Assert.Equal([first, newer], (await ClaimAllAsync(h)).Select(t => t.Id));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_group_is_stored_on_the_task_listed_counted_and_kept_through_a_delayed_retry()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(InGroup(h, "acme") with { Delay = TimeSpan.FromSeconds(5) })).Id;
        Assert.Equal("acme", (await SnapshotAsync(h, id)).Group);

        h.Advance(TimeSpan.FromSeconds(6));
        var task = await ClaimOneAsync(h);
        Assert.Equal(id, task.Id);
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, task));
        h.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(0, (await h.Store.GetCountsAsync(h.Queue)).Leased);

        // The retry is promoted into the group's lane and leased from there.
        Assert.Equal(id, (await ClaimOneAsync(h)).Id);
        Assert.Equal(RedisKeys.Lane(0, "echo", "acme"), (string)(await h.Db.HashGetAsync(RedisKeys.Task(id), TaskFields.Lane))!);
        Assert.Equal(1, (await h.Store.GetCountsAsync(h.Queue)).Leased);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_groups_lane_stored_as_a_stream_by_the_last_version_is_served_after_an_upgrade_reclaimed_first_then_in_order()
    {
        var h = await NewStoreAsync();
        var lane = RedisKeys.Lane(0, "echo", "old");
        var stream = RedisKeys.ReadyLane(h.Queue, lane);
        var first = await SubmitAsync(h, "old", 1);
        var leased = await ClaimOneAsync(h);
        Assert.Equal(first[0], leased.Id);
        var waiting = await SubmitAsync(h, "old", 3);

        // Rewritten as the last version stored them: the lane a stream with a consumer group, named in the group
        // lanes set; the leased task's entry delivered to "leased", the first waiting one's reclaimed ("front").
        await h.Db.KeyDeleteAsync(RedisKeys.GroupReady(h.Queue, lane));
        await h.Db.StreamCreateConsumerGroupAsync(stream, "tq", "0", createStream: true);
        await h.Db.SetAddAsync(RedisKeys.GroupLanes(h.Queue), lane);
        foreach (var id in (TaskId[])[leased.Id, .. waiting])
        {
            await h.Db.HashSetAsync(RedisKeys.Task(id), TaskFields.StreamEntry, await h.Db.StreamAddAsync(stream, "id", id.LocalId));
        }

        await h.Db.StreamReadGroupAsync(stream, "tq", "leased", ">", count: 2);
        var reclaimed = (string)(await h.Db.HashGetAsync(RedisKeys.Task(waiting[0]), TaskFields.StreamEntry))!;
        await h.Db.StreamClaimAsync(stream, "tq", "front", 0, [reclaimed]);
        await h.Db.HashSetAsync(RedisKeys.Front(h.Queue), lane, "1");
        // (No consistency check here: until the first claim moves the stream, stats count its leased entry as ready too,
        // as stats.lua says.)

        // This version pushes new work to the group lane; the first claim moves the stream's tasks ahead of it.
        var pushed = (await h.Store.EnqueueAsync(InGroup(h, "old"))).Id;
        var claimed = (await h.Store.ClaimAsync(h.Queue, "w", 10, Lease)).Tasks;

        Assert.Equal([waiting[0], waiting[1], waiting[2], pushed], claimed.Select(t => t.Id));
        Assert.False(await h.Db.KeyExistsAsync(stream));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.GroupLanes(h.Queue)));
        Assert.False(await h.Db.HashExistsAsync(RedisKeys.Front(h.Queue), lane));
        await AssertConsistentAsync(h);

        // The task leased before the upgrade ends as any other, and the group's lease count comes out even.
        foreach (var task in (LeasedTask[])[leased, .. claimed])
        {
            Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task));
        }

        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.GroupLeased(h.Queue)));
        await AssertConsistentAsync(h);
    }
}
