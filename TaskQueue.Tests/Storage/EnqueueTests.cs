using System.Globalization;
using System.Text;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

public class EnqueueTests : StoreTests
{
    [Fact]
    public async Task An_enqueued_task_is_ready_with_everything_it_was_given()
    {
        var h = await NewStoreAsync();
        var before = await NowMsAsync(h);

        var result = await h.Store.EnqueueAsync(h.Task("resize", "image-1") with
        {
            Priority = 3,
            MaxAttempts = 7,
            ExecutionTimeout = TimeSpan.FromSeconds(5),
            TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            TraceState = "vendor=1",
        });

        Assert.False(result.Duplicate);
        Assert.Equal(h.Queue, result.Id.Queue);
        var snapshot = await SnapshotAsync(h, result.Id);
        Assert.Equal(TaskState.Ready, snapshot.State);
        Assert.Equal(("resize", "image-1", 3, 7, 0), (snapshot.Type, Encoding.UTF8.GetString(snapshot.Payload.Span), snapshot.Priority, snapshot.MaxAttempts, snapshot.Attempt));
        Assert.Equal(TimeSpan.FromSeconds(5), snapshot.ExecutionTimeout);
        Assert.Equal("vendor=1", snapshot.TraceState);
        Assert.InRange(snapshot.CreatedAt.ToUnixTimeMilliseconds(), before, await NowMsAsync(h));
        Assert.Null(snapshot.ExpiresAt);
        Assert.Equal(1, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 3, "resize")));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 0, 0, 1), (counts.Ready, counts.Leased, counts.Scheduled, counts.Submitted));
        Assert.Contains(h.Queue, await h.Store.GetQueuesAsync());

        var leased = await ClaimOneAsync(h);
        Assert.Equal((result.Id, "resize", 3, 7), (leased.Id, leased.Type, leased.Priority, leased.MaxAttempts));
        Assert.Equal("image-1", Encoding.UTF8.GetString(leased.Payload.Span));
        Assert.Equal(TimeSpan.FromSeconds(5), leased.ExecutionTimeout);
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", leased.TraceParent);
        Assert.Equal("vendor=1", leased.TraceState);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_batch_across_two_queues_returns_results_in_input_order()
    {
        var a = await NewStoreAsync();
        var b = await NewStoreAsync();
        NewTask[] tasks = [a.Task(payload: "a1"), b.Task(payload: "b1"), a.Task(payload: "a2"), a.Task(payload: "a3"), b.Task(payload: "b2")];

        var results = await a.Store.EnqueueBatchAsync(tasks);

        Assert.Equal(tasks.Length, results.Count);
        Assert.Equal(tasks.Length, results.Select(r => r.Id).Distinct().Count());
        for (var i = 0; i < tasks.Length; i++)
        {
            Assert.False(results[i].Duplicate);
            Assert.Equal(tasks[i].Queue, results[i].Id.Queue);
            var snapshot = await SnapshotAsync(a, results[i].Id);
            Assert.Equal(tasks[i].Payload.ToArray(), snapshot.Payload.ToArray());
        }

        Assert.Equal(3, (await a.Store.GetCountsAsync(a.Queue)).Ready);
        Assert.Equal(2, (await a.Store.GetCountsAsync(b.Queue)).Ready);
        Assert.Equal(["a1", "a2", "a3"], (await ClaimAllAsync(a)).Select(t => Encoding.UTF8.GetString(t.Payload.Span)));
        Assert.Equal(["b1", "b2"], (await ClaimAllAsync(b)).Select(t => Encoding.UTF8.GetString(t.Payload.Span)));
        await AssertConsistentAsync(a);
        await AssertConsistentAsync(b);
    }

    [Fact]
    public async Task Higher_priorities_are_claimed_first_and_each_level_is_first_in_first_out()
    {
        var h = await NewStoreAsync();
        (string Name, int Priority)[] plan = [("a", 0), ("b", 5), ("c", 9), ("d", 5), ("e", 0), ("f", 9), ("g", 1)];
        foreach (var (name, priority) in plan)
        {
            await h.Store.EnqueueAsync(h.Task(payload: name) with { Priority = priority });
        }

        var oneByOne = new List<string>();
        for (var i = 0; i < plan.Length; i++)
        {
            var task = await ClaimOneAsync(h);
            oneByOne.Add(Encoding.UTF8.GetString(task.Payload.Span));
        }

        Assert.Equal(["c", "f", "b", "d", "g", "a", "e"], oneByOne);
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task One_claim_of_many_tasks_takes_them_in_priority_then_arrival_order()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 30, i => h.Task(payload: i.ToString("D2", CultureInfo.InvariantCulture)) with { Priority = i % 3 });

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 30, Lease);

        var expected = Enumerable.Range(0, 30).OrderByDescending(i => i % 3).ThenBy(i => i)
            .Select(i => i.ToString("D2", CultureInfo.InvariantCulture));
        Assert.Equal(expected, claim.Tasks.Select(t => Encoding.UTF8.GetString(t.Payload.Span)));
        Assert.Equal(claim.Tasks.Select(t => t.Priority), claim.Tasks.Select(t => t.Priority).OrderDescending());
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_delayed_task_is_scheduled_and_not_claimable_until_it_is_due()
    {
        var h = await NewStoreAsync();
        var before = await NowMsAsync(h);
        var id = (await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromSeconds(60) })).Id;
        var after = await NowMsAsync(h);

        var snapshot = await SnapshotAsync(h, id);
        Assert.Equal(TaskState.Scheduled, snapshot.State);
        Assert.InRange(snapshot.DueAt!.Value.ToUnixTimeMilliseconds(), before + 60_000, after + 60_000);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, 1), (counts.Ready, counts.Scheduled));
        await AssertConsistentAsync(h);

        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);
        h.Advance(TimeSpan.FromSeconds(30));
        var early = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);
        Assert.Equal((0, 0), (early.Tasks.Count, early.Promoted));

        h.Advance(TimeSpan.FromSeconds(31));
        var due = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.Equal(1, due.Promoted);
        Assert.Equal(id, Assert.Single(due.Tasks).Id);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task The_promoter_moves_due_work_to_ready_and_reports_when_the_next_is_due()
    {
        var h = await NewStoreAsync();
        var soon = (await h.Store.EnqueueAsync(h.Task(payload: "soon") with { Delay = TimeSpan.FromSeconds(5) })).Id;
        var later = (await h.Store.EnqueueAsync(h.Task(payload: "later") with { Delay = TimeSpan.FromSeconds(60) })).Id;
        var soonDue = (await SnapshotAsync(h, soon)).DueAt!.Value.ToUnixTimeMilliseconds();
        var laterDue = (await SnapshotAsync(h, later)).DueAt!.Value.ToUnixTimeMilliseconds();

        var before = await NowMsAsync(h);
        var nothingDue = await h.Store.PromoteAsync(h.Queue);
        var after = await NowMsAsync(h);
        Assert.Equal(0, nothingDue.Promoted);
        Assert.InRange((long)nothingDue.NextDueIn!.Value.TotalMilliseconds, soonDue - after, soonDue - before);

        h.Advance(TimeSpan.FromSeconds(6));
        before = await NowMsAsync(h);
        var promoted = await h.Store.PromoteAsync(h.Queue);
        after = await NowMsAsync(h);

        Assert.Equal((1, 0), (promoted.Promoted, promoted.Expired));
        Assert.InRange((long)promoted.NextDueIn!.Value.TotalMilliseconds, laterDue - after, laterDue - before);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 1), (counts.Ready, counts.Scheduled));
        Assert.Equal(soon, (await ClaimOneAsync(h)).Id);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_not_before_time_in_the_future_schedules_the_task_and_one_in_the_past_does_not()
    {
        var h = await NewStoreAsync();
        var now = await NowMsAsync(h);
        var future = (await h.Store.EnqueueAsync(h.Task(payload: "future") with { NotBefore = DateTimeOffset.FromUnixTimeMilliseconds(now + 3_600_000) })).Id;
        var past = (await h.Store.EnqueueAsync(h.Task(payload: "past") with { NotBefore = DateTimeOffset.FromUnixTimeMilliseconds(now - 60_000) })).Id;

        Assert.Equal(TaskState.Scheduled, (await SnapshotAsync(h, future)).State);
        Assert.Equal(now + 3_600_000, (await SnapshotAsync(h, future)).DueAt!.Value.ToUnixTimeMilliseconds());
        Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, past)).State);
        Assert.Equal(past, (await ClaimOneAsync(h)).Id);
        h.Advance(TimeSpan.FromMinutes(59));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);

        h.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(future, (await ClaimOneAsync(h)).Id);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Max_attempts_defaults_to_the_store_option_unless_the_task_sets_it()
    {
        var h = await NewStoreAsync(options => options.DefaultMaxAttempts = 4);
        var byDefault = (await h.Store.EnqueueAsync(h.Task())).Id;
        var explicitly = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 2 })).Id;

        Assert.Equal(4, (await SnapshotAsync(h, byDefault)).MaxAttempts);
        Assert.Equal(2, (await SnapshotAsync(h, explicitly)).MaxAttempts);
        var claimed = (await ClaimAllAsync(h)).ToDictionary(t => t.Id, t => t.MaxAttempts);
        Assert.Equal(4, claimed[byDefault]);
        Assert.Equal(2, claimed[explicitly]);
    }

    [Fact]
    public async Task A_repeated_idempotency_key_returns_the_first_id_and_writes_nothing()
    {
        var h = await NewStoreAsync();
        var first = await h.Store.EnqueueAsync(h.Task(payload: "first") with { IdempotencyKey = "order-42" });
        var before = await FingerprintAsync(h);

        var repeat = await h.Store.EnqueueAsync(h.Task(payload: "second") with { IdempotencyKey = "order-42", Priority = 9, Delay = TimeSpan.FromMinutes(1) });

        Assert.False(first.Duplicate);
        Assert.True(repeat.Duplicate);
        Assert.Equal(first.Id, repeat.Id);
        Assert.Equal(before, await FingerprintAsync(h));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 0, 1), (counts.Ready, counts.Scheduled, counts.Submitted));
        Assert.Equal("first", Encoding.UTF8.GetString((await SnapshotAsync(h, first.Id)).Payload.Span));
        Assert.Equal("order-42", (await SnapshotAsync(h, first.Id)).IdempotencyKey);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task An_idempotency_key_repeated_within_one_batch_enqueues_the_task_once()
    {
        var h = await NewStoreAsync();

        var results = await h.Store.EnqueueBatchAsync(
        [
            h.Task(payload: "a") with { IdempotencyKey = "k" },
            h.Task(payload: "b") with { IdempotencyKey = "k" },
            h.Task(payload: "c"),
            h.Task(payload: "d") with { IdempotencyKey = "k" },
        ]);

        Assert.Equal([false, true, false, true], results.Select(r => r.Duplicate));
        Assert.Equal(results[0].Id, results[1].Id);
        Assert.Equal(results[0].Id, results[3].Id);
        Assert.NotEqual(results[0].Id, results[2].Id);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((2, 2), (counts.Ready, counts.Submitted));
        Assert.Equal(["a", "c"], (await ClaimAllAsync(h)).Select(t => Encoding.UTF8.GetString(t.Payload.Span)));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Idempotency_keys_belong_to_their_queue()
    {
        var a = await NewStoreAsync();
        var b = await NewStoreAsync();

        var results = await a.Store.EnqueueBatchAsync([a.Task() with { IdempotencyKey = "same" }, b.Task() with { IdempotencyKey = "same" }]);

        Assert.Equal([false, false], results.Select(r => r.Duplicate));
        Assert.Equal([a.Queue, b.Queue], results.Select(r => r.Id.Queue));
    }
}
