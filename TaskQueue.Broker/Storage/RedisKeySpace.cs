using System.Runtime.CompilerServices;
using StackExchange.Redis;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// Which keys hold a queue's entries in the registry, the due index and the schedule index: on a single Redis the
/// global <see cref="RedisKeys.Queues"/>, <see cref="RedisKeys.Due"/> and <see cref="RedisKeys.ScheduleDue"/>; in a
/// Redis Cluster (StackExchange.Redis reports the servers as cluster nodes) the queue's slot's own
/// (<see cref="RedisKeys.SlotQueues"/>, ...), so that every script touches one slot and declares every key outside its
/// queue's prefix that it touches. One per connection: the mode is read from the connected servers once.
/// </summary>
/// <remarks>
/// Every script gets <see cref="ScriptKeys"/>: KEYS[1] the queue's prefix (never a key itself), KEYS[2..4] those three
/// indexes (lib/common.lua, lib/schedule.lua). Declaring the slot's indexes also keeps a script whole while its slot
/// migrates: they exist while the slot holds a registered queue and the prefix never does, so Redis answers TRYAGAIN
/// (some declared keys here, some not) instead of running the script on the half of the keys one node holds;
/// <see cref="RedisRetry"/> retries that.
/// </remarks>
public sealed class RedisKeySpace
{
    private static readonly ConditionalWeakTable<IConnectionMultiplexer, RedisKeySpace> s_spaces = new();

    private readonly IConnectionMultiplexer _redis;
    private volatile int _mode; // 0 not known yet, 1 a single Redis, 2 a cluster

    private RedisKeySpace(IConnectionMultiplexer redis) => _redis = redis;

    /// <summary>The key space of <paramref name="redis"/> (one per connection).</summary>
    public static RedisKeySpace Of(IConnectionMultiplexer redis) => s_spaces.GetValue(redis, r => new RedisKeySpace(r));

    /// <summary>True when the connection is to a Redis Cluster. Throws while no server is connected yet.</summary>
    public bool IsCluster
    {
        get
        {
            if (_mode == 0)
            {
                var connected = _redis.GetServers().Where(s => s.IsConnected).ToList();
                if (connected.Count == 0)
                {
                    throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "No Redis server is connected yet.");
                }

                _mode = connected.Any(s => s.ServerType == ServerType.Cluster) ? 2 : 1;
            }

            return _mode == 2;
        }
    }

    /// <summary>The keys every script of <paramref name="queue"/> gets: its prefix, due index, registry and schedule index.</summary>
    public RedisKey[] ScriptKeys(string queue) =>
        [RedisKeys.QueuePrefix(queue), DueIndex(queue), Registry(queue), ScheduleIndex(queue)];

    /// <summary>The registry set that holds <paramref name="queue"/>.</summary>
    public RedisKey Registry(string queue) => IsCluster ? RedisKeys.SlotQueues(ClusterSlots.TagOfQueue(queue)) : RedisKeys.Queues;

    /// <summary>The due index that holds <paramref name="queue"/>.</summary>
    public RedisKey DueIndex(string queue) => IsCluster ? RedisKeys.SlotDue(ClusterSlots.TagOfQueue(queue)) : RedisKeys.Due;

    /// <summary>The schedule index that holds <paramref name="queue"/>.</summary>
    public RedisKey ScheduleIndex(string queue) => IsCluster ? RedisKeys.SlotScheduleDue(ClusterSlots.TagOfQueue(queue)) : RedisKeys.ScheduleDue;

    /// <summary>Every registry set: the global one, or each used slot's.</summary>
    public Task<IReadOnlyList<RedisKey>> RegistriesAsync() => AllAsync(RedisKeys.Queues, RedisKeys.SlotQueues);

    /// <summary>Every due index: the global one, or each used slot's (what the reaper and the promoter visit).</summary>
    public Task<IReadOnlyList<RedisKey>> DueIndexesAsync() => AllAsync(RedisKeys.Due, RedisKeys.SlotDue);

    /// <summary>Every schedule index: the global one, or each used slot's.</summary>
    public Task<IReadOnlyList<RedisKey>> ScheduleIndexesAsync() => AllAsync(RedisKeys.ScheduleDue, RedisKeys.SlotScheduleDue);

    /// <summary>Records that the slots of <paramref name="queues"/> are used (cluster mode; nothing on a single Redis).</summary>
    public async Task AddSlotsAsync(IEnumerable<string> queues)
    {
        if (IsCluster)
        {
            var tags = queues.Select(ClusterSlots.TagOfQueue).Distinct(StringComparer.Ordinal).Select(t => (RedisValue)t).ToArray();
            await _redis.GetDatabase().SetAddAsync(RedisKeys.Slots, tags);
        }
    }

    private async Task<IReadOnlyList<RedisKey>> AllAsync(string global, Func<string, string> perSlot)
    {
        if (!IsCluster)
        {
            return [global];
        }

        var tags = await _redis.GetDatabase().SetMembersAsync(RedisKeys.Slots);
        return [.. tags.Select(t => (RedisKey)perSlot(t!))];
    }
}
