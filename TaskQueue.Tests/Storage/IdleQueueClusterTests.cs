using Microsoft.Extensions.Options;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// The idle-queue lifecycle of <see cref="IdleQueueTests"/> on a Redis Cluster of 3 primaries: queues on different
/// primaries are forgotten from their own slot's registry and due index after the idle expiry, and a submit afterwards
/// registers them again. On a cluster of its own: the test moves the store's clock and visits every due queue, which
/// on the shared cluster would visit other tests' queues.
/// </summary>
public sealed class IdleQueueClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan s_idle = TimeSpan.FromMinutes(10);
    private readonly RedisClockShift _clock = new();
    private RedisCluster _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisCluster.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Empty_queues_on_different_primaries_are_forgotten_from_their_slots_indexes_after_the_idle_expiry_and_come_back_on_a_submit()
    {
        var store = new RedisTaskStore(
            _redis.Connection,
            Options.Create(new TaskStoreOptions { Retention = TimeSpan.Zero, QueueIdleExpiry = s_idle, PriorityMaxWait = TimeSpan.Zero }),
            _clock);
        var keys = RedisKeySpace.Of(_redis.Connection);
        var queues = await QueuesOnDifferentPrimariesAsync();
        foreach (var queue in queues)
        {
            await RunOneAsync(store, queue);
        }

        await VisitDueAsync(store, TimeSpan.FromSeconds(31)); // the lease deadlines: empty, the idle clocks start
        await VisitDueAsync(store, s_idle - TimeSpan.FromSeconds(1));
        Assert.Equal(queues, await store.GetQueuesAsync());

        await VisitDueAsync(store, TimeSpan.FromSeconds(2));
        var afterExpiry = await store.GetQueuesAsync();
        var db = _redis.Connection.GetDatabase();
        foreach (var queue in queues)
        {
            Assert.False(await db.SetContainsAsync(keys.Registry(queue), queue));
            Assert.Null(await db.SortedSetScoreAsync(keys.DueIndex(queue), queue));
            Assert.Empty(await QueueKeysAsync(queue));
        }

        foreach (var queue in queues)
        {
            await RunOneAsync(store, queue);
        }

        Assert.Empty(afterExpiry);
        Assert.Equal(queues, await store.GetQueuesAsync());
        foreach (var queue in queues)
        {
            Assert.Equal(1, (await store.GetCountsAsync(queue)).Completed);
        }
    }

    /// <summary>Three queue names (in order), each on another primary.</summary>
    private async Task<List<string>> QueuesOnDifferentPrimariesAsync()
    {
        var byPrimary = new Dictionary<int, string>();
        for (var i = 0; byPrimary.Count < _redis.Process.Primaries.Count; i++)
        {
            var queue = $"idle-{i}";
            byPrimary.TryAdd((await _redis.Process.OwnerOfAsync(ClusterSlots.OfQueue(queue))).Port, queue);
        }

        return [.. byPrimary.Values.Order(StringComparer.Ordinal)];
    }

    private static Task RunOneAsync(RedisTaskStore store, string queue) => IdleQueueSteps.RunOneAsync(store, queue);

    private Task VisitDueAsync(RedisTaskStore store, TimeSpan after) => IdleQueueSteps.VisitDueAsync(store, _clock, after);

    private async Task<List<string>> QueueKeysAsync(string queue)
    {
        var keys = new List<string>();
        await foreach (var key in _redis.ServerOf(RedisKeys.QueuePrefix(queue)).KeysAsync(pattern: RedisKeys.QueuePrefix(queue) + "*"))
        {
            keys.Add(key!);
        }

        return keys;
    }
}
