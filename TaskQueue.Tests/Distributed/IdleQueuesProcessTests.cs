using System.Globalization;
using System.Text.RegularExpressions;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// A real broker over a Redis of its own holding 2,000 queues that each ran one task (kept for the 24 h retention):
/// the background loops visit only queues with something due, yet an expired lease or a delayed task in one of them
/// is handled.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed partial class IdleQueuesProcessTests(IdleQueuesProcessTests.IdleRedis idle, ITestOutputHelper output) : IClassFixture<IdleQueuesProcessTests.IdleRedis>
{
    private const int Queues = 2000;

    [Fact]
    public async Task An_expired_lease_in_one_of_2000_idle_queues_is_reaped_without_visiting_the_others()
    {
        var db = idle.Db;
        var before = await IdleScoresAsync(db);
        var callsBefore = await ScriptCallsAsync(db);

        // A worker took a task with a 1 s lease and vanished.
        const string Busy = "idle-1234";
        await idle.Cluster.Store.EnqueueAsync(new NewTask(Busy, "echo", "x"u8.ToArray()));
        var lost = Assert.Single((await idle.Cluster.Store.ClaimAsync(Busy, "gone", 1, TimeSpan.FromSeconds(1))).Tasks);

        var reaped = await Eventually.UntilAsync(
            () => idle.Cluster.Store.GetAsync(lost.Id),
            t => t is { State: not StoreState.Leased },
            TimeSpan.FromSeconds(30),
            "the expired lease is reaped");
        var calls = await ScriptCallsAsync(db) - callsBefore;
        output.WriteLine($"script calls while the lease ran out and was reaped: {calls}");

        Assert.Equal("lease expired", reaped!.LastError);
        Assert.Equal(1, reaped.Attempt);
        // No visit to the idle queues: each keeps the due time its last visit gave it (a visit would have moved it), and
        // Redis ran fewer scripts in all than one pass over them would have taken (each reaper tick, before the index).
        var after = await IdleScoresAsync(db);
        Assert.Equal(before.Where(p => p.Key != Busy), after.Where(p => p.Key != Busy));
        Assert.InRange(calls, 1, Queues - 1);
    }

    [Fact]
    public async Task A_delayed_task_in_one_of_2000_idle_queues_is_promoted_when_it_falls_due()
    {
        var id = (await idle.Cluster.Store.EnqueueAsync(new NewTask("idle-42", "echo", "x"u8.ToArray()) { Delay = TimeSpan.FromSeconds(1) })).Id;

        var ready = await Eventually.UntilAsync(
            () => idle.Cluster.Store.GetAsync(id),
            t => t is { State: StoreState.Ready },
            TimeSpan.FromSeconds(30),
            "the delayed task is promoted");

        var enqueued = (long)await idle.Db.HashGetAsync(RedisKeys.Task(id), "enqueued");
        var due = ready!.DueAt!.Value.ToUnixTimeMilliseconds();
        output.WriteLine($"promoted {enqueued - due} ms after its due time");
        Assert.True(enqueued >= due, $"promoted at {enqueued}, before its due time {due}");
    }

    private static async Task<Dictionary<string, double>> IdleScoresAsync(IDatabase db) =>
        (await db.SortedSetRangeByRankWithScoresAsync(RedisKeys.Due)).ToDictionary(e => (string)e.Element!, e => e.Score, StringComparer.Ordinal);

    private static async Task<long> ScriptCallsAsync(IDatabase db)
    {
        var info = (string)(await db.ExecuteAsync("INFO", "commandstats"))!;
        return ScriptStats().Matches(info).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"cmdstat_eval(?:sha)?:calls=(\d+)")]
    private static partial Regex ScriptStats();

    /// <summary>The Redis, its 2,000 used-once queues and one broker, set up once for the class.</summary>
    public sealed class IdleRedis : IAsyncLifetime
    {
        private RedisServer _redis = null!;

        internal TaskQueueCluster Cluster { get; private set; } = null!;

        public IDatabase Db => _redis.Connection.GetDatabase();

        public async Task InitializeAsync()
        {
            _redis = await RedisServer.StartAsync();
            Cluster = await TaskQueueCluster.StartAsync(_redis);
            var store = Cluster.Store;
            foreach (var chunk in Enumerable.Range(0, Queues).Select(i => $"idle-{i}").Chunk(500))
            {
                await store.EnqueueBatchAsync([.. chunk.Select(q => new NewTask(q, "echo", "x"u8.ToArray()))]);
                await Task.WhenAll(chunk.Select(async queue =>
                {
                    var task = (await store.ClaimAsync(queue, "once", 1, TimeSpan.FromSeconds(30))).Tasks[0];
                    await store.CompleteAsync(queue, [new TaskCompletion(task.Id, task.LeaseToken, ReadOnlyMemory<byte>.Empty)]);
                }));
            }

            await Cluster.StartBrokerAsync();
            // The broker's first visits (it marks every queue due at start) give each queue its true due time: when its
            // finished task's retention ends, a day away.
            await Eventually.TrueAsync(
                async () => await Db.SortedSetLengthAsync(RedisKeys.Due, double.NegativeInfinity, DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds()) == 0,
                TimeSpan.FromSeconds(60),
                "the broker visited every queue once");
        }

        public async Task DisposeAsync()
        {
            await Cluster.DisposeAsync();
            await _redis.DisposeAsync();
        }
    }
}
