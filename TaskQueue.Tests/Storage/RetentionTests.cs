using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

public class RetentionTests : StoreTests
{
    [Fact]
    public async Task Finished_tasks_and_their_idempotency_keys_disappear_after_the_retention()
    {
        var h = await NewStoreAsync(options => options.Retention = TimeSpan.FromMilliseconds(200));
        const int count = 200;
        await EnqueueManyAsync(h, count, i => h.Task(payload: "p" + i) with { IdempotencyKey = "key-" + i });
        var tasks = await ClaimAllAsync(h);
        Assert.Equal(count, tasks.Count);

        var results = await h.Store.CompleteAsync(h.Queue, [.. tasks.Select(t => new TaskCompletion(t.Id, t.LeaseToken, "ok"u8.ToArray()))]);

        Assert.All(results, r => Assert.Equal(TransitionResult.Ok, r));
        var structural = StructuralKeys(h, 0);
        await Eventually.UntilAsync(
            async () => (await h.QueueKeysAsync()).Order(StringComparer.Ordinal).ToList(),
            keys => keys.SequenceEqual(structural),
            TimeSpan.FromSeconds(10),
            "only the structural keys of the queue are left",
            Poll);
        Assert.Equal(0, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 0, "echo")));
        Assert.Equal(count, (await h.Store.GetCountsAsync(h.Queue)).Completed);
        Assert.False((await h.Store.EnqueueAsync(h.Task() with { IdempotencyKey = "key-0" })).Duplicate);
    }

    [Fact]
    public async Task A_finished_task_and_its_idempotency_key_are_kept_for_the_retention()
    {
        var h = await NewStoreAsync(options => options.Retention = TimeSpan.FromMinutes(10));
        await h.Store.EnqueueAsync(h.Task() with { IdempotencyKey = "k" });
        var task = await ClaimOneAsync(h);

        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task));

        Assert.NotNull(await h.Store.GetAsync(task.Id));
        var ttl = await h.Db.KeyTimeToLiveAsync(RedisKeys.Task(task.Id));
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        var idemTtl = await h.Db.KeyTimeToLiveAsync(RedisKeys.Idempotency(h.Queue, "k"));
        Assert.InRange(idemTtl!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task Every_final_state_but_dead_lettered_follows_the_retention()
    {
        var h = await NewStoreAsync(options => options.Retention = TimeSpan.FromMinutes(10));
        var cancelled = (await h.Store.EnqueueAsync(h.Task())).Id;
        await h.Store.CancelAsync(cancelled);
        var expired = (await h.Store.EnqueueAsync(h.Task() with { ExpiresAfter = TimeSpan.FromSeconds(1) })).Id;
        h.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, (await h.Store.ClaimAsync(h.Queue, "w1", 1, Lease)).Expired);
        var dead = (await DeadLetterAsync(h, 1, TimeSpan.Zero))[0];

        Assert.NotNull(await h.Db.KeyTimeToLiveAsync(RedisKeys.Task(cancelled)));
        Assert.NotNull(await h.Db.KeyTimeToLiveAsync(RedisKeys.Task(expired)));
        Assert.Null(await h.Db.KeyTimeToLiveAsync(RedisKeys.Task(dead)));
    }

    [Fact]
    public async Task A_retention_of_zero_deletes_finished_tasks_at_once()
    {
        var h = await NewStoreAsync(options => options.Retention = TimeSpan.Zero);
        await EnqueueManyAsync(h, 2, i => h.Task() with { IdempotencyKey = "zero-" + i });
        var cancelled = (await h.Store.EnqueueAsync(h.Task() with { IdempotencyKey = "zero-c" })).Id;
        var expired = (await h.Store.EnqueueAsync(h.Task() with { ExpiresAfter = TimeSpan.FromSeconds(1), IdempotencyKey = "zero-e" })).Id;
        Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(cancelled)).Result);
        var completed = await ClaimOneAsync(h);
        var failed = await ClaimOneAsync(h);
        await h.Store.CancelAsync(failed.Id);
        h.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, completed));
        Assert.Equal(TransitionResult.Cancelled, await FailAsync(h, failed));
        Assert.Equal(1, (await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Expired);

        foreach (var id in new[] { completed.Id, failed.Id, cancelled, expired })
        {
            Assert.Null(await h.Store.GetAsync(id));
        }

        Assert.Equal(StructuralKeys(h, 0), (await h.QueueKeysAsync()).Order(StringComparer.Ordinal));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 2, 1), (counts.Completed, counts.Cancelled, counts.Expired));
    }

    /// <summary>What a drained queue keeps: its lanes' ready streams (with their group; the harness's type "echo"), the lanes set and the stats.</summary>
    private static List<string> StructuralKeys(StoreHarness h, params int[] levels) =>
        [.. levels.Select(l => RedisKeys.Ready(h.Queue, l, "echo")).Append(RedisKeys.Levels(h.Queue)).Append(RedisKeys.Stats(h.Queue)).Order(StringComparer.Ordinal)];
}
