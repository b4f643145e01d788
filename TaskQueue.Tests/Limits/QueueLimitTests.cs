using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Limits;

/// <summary>The queue cap at the store, on a Redis of its own (other tests' queues would count).</summary>
public sealed class QueueLimitTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private RedisTaskStore Store(int maxQueues) =>
        new(_redis.Connection, Options.Create(new TaskStoreOptions()), new RedisClockShift(), Options.Create(new LimitOptions { MaxQueues = maxQueues }));

    private static NewTask Task(string queue) => new(queue, "echo", "x"u8.ToArray());

    [Fact]
    public async Task A_submit_that_would_create_one_queue_too_many_is_refused_and_stores_nothing()
    {
        var store = Store(maxQueues: 3);
        foreach (var queue in new[] { "q1", "q2", "q3" })
        {
            await store.EnqueueAsync(Task(queue));
        }

        var keysBefore = await KeysAsync();
        var refused = await Assert.ThrowsAsync<LimitExceededException>(() => store.EnqueueAsync(Task("q4")));

        Assert.Contains("3 queues", refused.Message, StringComparison.Ordinal);
        Assert.Null(refused.RetryAfter);
        Assert.Equal(keysBefore, await KeysAsync());
        Assert.Equal(["q1", "q2", "q3"], await store.GetQueuesAsync());
    }

    [Fact]
    public async Task A_queue_that_exists_is_never_refused_even_by_a_broker_that_has_not_seen_it()
    {
        await Store(maxQueues: 2).EnqueueBatchAsync([Task("q1"), Task("q2")]);

        // A second broker (its own cache) at the cap: both known queues still take work.
        var other = Store(maxQueues: 2);
        await other.EnqueueBatchAsync([Task("q1"), Task("q2"), Task("q2")]);

        Assert.Equal(3, (await other.GetCountsAsync("q2")).Submitted);
        await Assert.ThrowsAsync<LimitExceededException>(() => other.EnqueueAsync(Task("q3")));
    }

    [Fact]
    public async Task A_batch_naming_two_new_queues_with_room_for_one_is_refused_whole()
    {
        var store = Store(maxQueues: 2);
        await store.EnqueueAsync(Task("q1"));

        await Assert.ThrowsAsync<LimitExceededException>(() => store.EnqueueBatchAsync([Task("q1"), Task("q2"), Task("q3")]));

        Assert.Equal(["q1"], await store.GetQueuesAsync());
        Assert.Equal(1, (await store.GetCountsAsync("q1")).Submitted);
    }

    [Fact]
    public async Task Brokers_registering_queues_at_once_never_pass_the_cap_together()
    {
        // Each broker on its own connection, as separate processes are: their transactions really interleave.
        var connections = await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString)));
        var brokers = connections.Select(c => new RedisTaskStore(
            c, Options.Create(new TaskStoreOptions()), new RedisClockShift(), Options.Create(new LimitOptions { MaxQueues = 50 }))).ToList();

        var outcomes = await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            try
            {
                await brokers[i % brokers.Count].RegisterQueuesAsync([$"race-{i}"]);
                return true;
            }
            catch (LimitExceededException)
            {
                return false;
            }
        }));

        var registered = await _redis.Connection.GetDatabase().SetLengthAsync(RedisKeys.Queues);
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }

        Assert.Equal(50, registered);
        Assert.Equal(50, outcomes.Count(accepted => accepted));
    }

    [Fact]
    public async Task Without_limits_the_store_does_not_cap_queues()
    {
        var store = new RedisTaskStore(_redis.Connection, Options.Create(new TaskStoreOptions()), new RedisClockShift());

        await store.RegisterQueuesAsync([.. Enumerable.Range(0, 1500).Select(i => $"many-{i}")]);

        Assert.Equal(1500, await _redis.Connection.GetDatabase().SetLengthAsync(RedisKeys.Queues));
    }

    private async Task<List<string>> KeysAsync()
    {
        var keys = new List<string>();
        await foreach (var key in _redis.Connection.GetServer(_redis.Connection.GetEndPoints()[0]).KeysAsync(pattern: "*"))
        {
            keys.Add(key!);
        }

        return [.. keys.Order(StringComparer.Ordinal)];
    }
}
