using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// A store on the shared test Redis (or, <c>onCluster</c>, the shared test Redis Cluster: <see cref="RedisCluster"/>),
/// with its own queue name and a movable clock.
/// </summary>
public sealed class StoreHarness
{
    private StoreHarness(ITestRedis redis, RedisTaskStore store, RedisClockShift clock, string queue)
    {
        Redis = redis;
        Store = store;
        Clock = clock;
        Queue = queue;
    }

    public ITestRedis Redis { get; }

    /// <summary>Where this queue's registry, due index and schedule index entries live (global, or its slot's in a cluster).</summary>
    public RedisKeySpace Keys => RedisKeySpace.Of(Redis.Connection);

    public RedisTaskStore Store { get; }

    public RedisClockShift Clock { get; }

    /// <summary>A queue name no other test uses.</summary>
    public string Queue { get; }

    public IDatabase Db => Redis.Connection.GetDatabase();

    public static async Task<StoreHarness> CreateAsync(Action<TaskStoreOptions>? configure = null, bool onCluster = false)
    {
        ITestRedis redis = onCluster ? await RedisCluster.Shared : await RedisServer.Shared;
        // Strict priority unless a test asks for a max wait: stream entries carry Redis's real time, so a shift
        // of the clock would make every waiting task look overdue.
        var options = new TaskStoreOptions { PriorityMaxWait = TimeSpan.Zero };
        configure?.Invoke(options);
        var clock = new RedisClockShift();
        var store = new RedisTaskStore(redis.Connection, Options.Create(options), clock);
        return new StoreHarness(redis, store, clock, "q-" + Guid.NewGuid().ToString("N")[..12]);
    }

    public NewTask Task(string type = "echo", string payload = "hello") =>
        new(Queue, type, System.Text.Encoding.UTF8.GetBytes(payload));

    /// <summary>Moves the store's clock forward.</summary>
    public void Advance(TimeSpan by) => Clock.Value += by;

    /// <summary>Every key of this harness's queue (the global registry excluded).</summary>
    public async Task<IReadOnlyList<string>> QueueKeysAsync()
    {
        var server = Redis.ServerOf(RedisKeys.QueuePrefix(Queue));
        var keys = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: RedisKeys.QueuePrefix(Queue) + "*", pageSize: 1000))
        {
            keys.Add(key!);
        }

        return keys;
    }
}
