using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// Empty queues are forgotten after the idle expiry, a forgotten queue takes work again, the queue cap counts only
/// live queues, and a Redis written before the due index loses no lease. On a Redis of its own: the registry and the
/// due index are global.
/// </summary>
public sealed class IdleQueueTests : IAsyncLifetime
{
    private static readonly TimeSpan s_idle = TimeSpan.FromMinutes(10);
    private readonly RedisClockShift _clock = new();
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private IDatabase Db => _redis.Connection.GetDatabase();

    // Finished tasks deleted at once, so a drained queue is empty.
    private RedisTaskStore Store(int maxQueues = 1000) =>
        new(
            _redis.Connection,
            Options.Create(new TaskStoreOptions { Retention = TimeSpan.Zero, QueueIdleExpiry = s_idle, PriorityMaxWait = TimeSpan.Zero }),
            _clock,
            Options.Create(new LimitOptions { MaxQueues = maxQueues }));

    private static NewTask Task(string queue) => new(queue, "echo", "x"u8.ToArray());

    [Fact]
    public async Task An_empty_queue_is_forgotten_after_the_idle_expiry_and_a_submit_afterwards_registers_it_again()
    {
        var store = Store();
        await RunOneAsync(store, "orders");

        // The visit at the lease deadline finds the queue empty: the idle clock starts, the queue is still known.
        await VisitDueAsync(store, TimeSpan.FromSeconds(31));
        Assert.Equal(["orders"], await store.GetQueuesAsync());
        await VisitDueAsync(store, s_idle - TimeSpan.FromSeconds(1));
        Assert.Equal(["orders"], await store.GetQueuesAsync());

        // An idle expiry after that visit it is forgotten: registry entry, due entry and every key of the queue.
        await VisitDueAsync(store, TimeSpan.FromSeconds(2));
        Assert.Empty(await store.GetQueuesAsync());
        Assert.Null(await Db.SortedSetScoreAsync(RedisKeys.Due, "orders"));
        Assert.Empty(await QueueKeysAsync("orders"));

        // This broker still remembers registering it: the enqueue script refuses the forgotten queue, the store
        // registers it again and the task is stored and runs.
        await RunOneAsync(store, "orders");
        Assert.Equal(["orders"], await store.GetQueuesAsync());
        Assert.Equal(1, (await store.GetCountsAsync("orders")).Completed);
    }

    [Fact]
    public async Task A_submit_during_the_idle_time_starts_the_clock_again()
    {
        var store = Store();
        await RunOneAsync(store, "orders");
        await VisitDueAsync(store, TimeSpan.FromSeconds(31)); // idle clock starts

        _clock.Value += TimeSpan.FromMinutes(5);
        await RunOneAsync(store, "orders");
        await VisitDueAsync(store, TimeSpan.FromSeconds(31)); // the new lease's deadline: empty again, a new clock

        await VisitDueAsync(store, TimeSpan.FromMinutes(5)); // the first clock's expiry would have passed
        Assert.Equal(["orders"], await store.GetQueuesAsync());
        await VisitDueAsync(store, s_idle);
        Assert.Empty(await store.GetQueuesAsync());
    }

    [Fact]
    public async Task A_queue_holding_anything_is_not_forgotten()
    {
        var store = Store();
        await store.EnqueueAsync(Task("ready"));                                        // waits for a worker
        await store.EnqueueAsync(Task("scheduled") with { Delay = TimeSpan.FromDays(2) }); // falls due later
        await store.EnqueueAsync(Task("dead") with { MaxAttempts = 1 });
        var dead = (await store.ClaimAsync("dead", "w1", 1, TimeSpan.FromSeconds(30))).Tasks[0];
        await store.FailAsync("dead", [new TaskFailure(dead.Id, dead.LeaseToken, "fatal", Retryable: false)]);

        for (var i = 0; i < 4; i++)
        {
            await VisitDueAsync(store, s_idle + TimeSpan.FromSeconds(1));
        }

        Assert.Equal(["dead", "ready", "scheduled"], await store.GetQueuesAsync());
        Assert.Equal(1, (await store.GetCountsAsync("ready")).Ready);
        Assert.Equal(1, (await store.GetCountsAsync("scheduled")).Scheduled);
        Assert.Equal(1, (await store.GetCountsAsync("dead")).DeadLettered);
    }

    [Fact]
    public async Task The_queue_cap_counts_only_live_queues_and_still_refuses_past_it()
    {
        var store = Store(maxQueues: 2);
        await RunOneAsync(store, "q1");
        await store.EnqueueAsync(Task("q2"));
        await Assert.ThrowsAsync<LimitExceededException>(() => store.EnqueueAsync(Task("q3")));

        // q1 drains and is forgotten: its place is free for q3.
        await VisitDueAsync(store, TimeSpan.FromSeconds(31));
        await VisitDueAsync(store, s_idle + TimeSpan.FromSeconds(1));
        Assert.Equal(["q2"], await store.GetQueuesAsync());
        await store.EnqueueAsync(Task("q3"));

        // q1 is forgotten though this broker registered it once: at the cap, it is refused and nothing is stored.
        await Assert.ThrowsAsync<LimitExceededException>(() => store.EnqueueAsync(Task("q1")));
        Assert.Equal(["q2", "q3"], await store.GetQueuesAsync());
        Assert.Empty(await QueueKeysAsync("q1"));
    }

    [Fact]
    public async Task A_redis_written_without_the_due_index_has_its_expired_leases_found_after_the_start_seed()
    {
        var store = Store();
        foreach (var queue in new[] { "a", "b", "c" })
        {
            await store.EnqueueAsync(Task(queue));
        }

        var leased = (await store.ClaimAsync("b", "w1", 1, TimeSpan.FromSeconds(5))).Tasks[0];
        // What a broker before the index leaves behind: the lease, and no index.
        await Db.KeyDeleteAsync(RedisKeys.Due);
        _clock.Value += TimeSpan.FromSeconds(6);
        Assert.Empty((await store.GetDueQueuesAsync(100)).Queues);

        Assert.Equal(3, await store.SeedDueIndexAsync());

        Assert.Equal(["a", "b", "c"], (await store.GetDueQueuesAsync(100)).Queues.Order(StringComparer.Ordinal));
        var reaped = await store.ReapAsync("b", 100);
        Assert.Equal(leased.Id, Assert.Single(reaped).Id);
        await store.PromoteAsync("a");
        await store.PromoteAsync("c");
        var stillDue = (await store.GetDueQueuesAsync(100)).Queues;
        Assert.DoesNotContain("a", stillDue);
        Assert.DoesNotContain("c", stillDue);
    }

    private static Task RunOneAsync(RedisTaskStore store, string queue) => IdleQueueSteps.RunOneAsync(store, queue);

    private Task VisitDueAsync(RedisTaskStore store, TimeSpan after) => IdleQueueSteps.VisitDueAsync(store, _clock, after);

    private async Task<List<string>> QueueKeysAsync(string queue)
    {
        var server = _redis.Connection.GetServer(_redis.Connection.GetEndPoints()[0]);
        var keys = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: RedisKeys.QueuePrefix(queue) + "*"))
        {
            keys.Add(key!);
        }

        return keys;
    }
}

/// <summary>The steps of the idle-queue tests, on one Redis (<see cref="IdleQueueTests"/>) and on a cluster (<see cref="IdleQueueClusterTests"/>).</summary>
internal static class IdleQueueSteps
{
    /// <summary>Submits one task to the queue, claims and completes it (a 30 s lease: the queue is due at its deadline).</summary>
    public static async Task RunOneAsync(RedisTaskStore store, string queue)
    {
        await store.EnqueueAsync(new NewTask(queue, "echo", "x"u8.ToArray()));
        var task = Assert.Single((await store.ClaimAsync(queue, "w1", 1, TimeSpan.FromSeconds(30))).Tasks);
        Assert.Equal([TransitionResult.Ok], await store.CompleteAsync(queue, [new TaskCompletion(task.Id, task.LeaseToken, ReadOnlyMemory<byte>.Empty)]));
    }

    /// <summary>Moves the store's clock on and visits every due queue (of every slot) as the reaper and the promoter do.</summary>
    public static async Task VisitDueAsync(RedisTaskStore store, RedisClockShift clock, TimeSpan after)
    {
        clock.Value += after;
        foreach (var queue in (await store.GetDueQueuesAsync(1000)).Queues)
        {
            await store.ReapAsync(queue, 1000);
            await store.PromoteAsync(queue);
        }
    }
}
