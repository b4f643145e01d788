using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// TaskQueue:Store:AckReplicas on a Redis Cluster of 2 primaries with a replica each (<see cref="RedisClusterProcess"/>
/// with <c>replicasPerPrimary: 1</c>): the WAIT goes to each primary that took a write of the batch, not to whichever
/// primary a keyless command would reach, so a batch over queues on both primaries is acknowledged by both primaries'
/// replicas, and a frozen replica of one of them makes the batch short even though the other's replica answered.
/// </summary>
public sealed class ClusterReplicaAckStoreTests : IAsyncLifetime
{
    private RedisClusterProcess _cluster = null!;
    private ConnectionMultiplexer _connection = null!;

    public async Task InitializeAsync()
    {
        _cluster = await RedisClusterProcess.StartAsync(primaries: 2, replicasPerPrimary: 1, extraArguments: RedisServerSettings.NoPersistence);
        _connection = await ConnectionMultiplexer.ConnectAsync($"{_cluster.ConnectionString},abortConnect=true,connectTimeout=2000,allowAdmin=true");
        await _connection.GetDatabase().PingAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _cluster.Replicas)
        {
            replica.Thaw();
        }

        await _connection.DisposeAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task A_submit_over_queues_on_two_primaries_and_a_completion_on_each_wait_on_the_primary_that_took_the_write()
    {
        var store = Store(ackReplicas: 1, TaskStoreOptions.MaxAckTimeout); // a loaded machine's replica may take its time
        var (first, second) = await QueuesOnEachPrimaryAsync("ack-ok");
        var before = await WaitCallsAsync();

        var results = await store.EnqueueBatchAsync([Task(first), Task(second), Task(second)]);
        var leased = Assert.Single((await store.ClaimAsync(second, "w1", 1, TimeSpan.FromSeconds(30))).Tasks);
        var completed = await store.CompleteAsync(second, [new TaskCompletion(leased.Id, leased.LeaseToken, "done"u8.ToArray())]);

        Assert.Equal(3, results.Count);
        Assert.Equal([TransitionResult.Ok], completed);
        var after = await WaitCallsAsync();
        Assert.Equal([1, 2], after.Zip(before, (a, b) => a - b)); // the submit's WAIT on each primary, the completion's on the second's
        // The second primary's replica holds what was acknowledged.
        await using var replica = await _cluster.Replicas[1].ConnectAsync();
        await replica.CallAsync(CancellationToken.None, "READONLY");
        Assert.Equal("completed", await replica.CallAsync(CancellationToken.None, "HGET", RedisKeys.QueuePrefix(second) + "t:" + leased.Id.LocalId, "state"));
    }

    [Fact]
    public async Task With_one_primarys_replica_frozen_a_submit_that_wrote_to_both_primaries_is_short_of_replicas()
    {
        var store = Store(ackReplicas: 1);
        var (first, second) = await QueuesOnEachPrimaryAsync("ack-short");
        await Store(ackReplicas: 0).EnqueueBatchAsync([Task(first), Task(second)]); // registers the queues
        _cluster.Replicas[1].Freeze(); // the second primary's

        var error = await Assert.ThrowsAsync<ReplicaAckException>(() => store.EnqueueBatchAsync([Task(first), Task(second)]));
        // The first primary's replica answers (given a loaded machine's time: the short timeout is for the frozen one).
        var onFirstOnly = await Store(ackReplicas: 1, TaskStoreOptions.MaxAckTimeout).EnqueueBatchAsync([Task(first)]);

        Assert.Equal(new ReplicaAcks(1, 0), error.Acks);
        Assert.Equal(2, error.Stored.Count);
        Assert.Single(onFirstOnly);
    }

    /// <summary>A store over the cluster; a frozen replica makes each write to its primary wait <paramref name="ackTimeout"/> (default 300 ms).</summary>
    private RedisTaskStore Store(int ackReplicas, TimeSpan? ackTimeout = null)
    {
        var options = Options.Create(new TaskStoreOptions { AckReplicas = ackReplicas, AckTimeout = ackTimeout ?? TimeSpan.FromMilliseconds(300) });
        return new RedisTaskStore(_connection, options, new RedisClockShift());
    }

    /// <summary>Two queue names whose slots the first and the second primary serve.</summary>
    private async Task<(string First, string Second)> QueuesOnEachPrimaryAsync(string prefix)
    {
        var names = new string?[2];
        for (var i = 0; names.Any(n => n is null); i++)
        {
            var queue = $"{prefix}-{i}";
            var owner = await _cluster.OwnerOfAsync(ClusterSlots.OfQueue(queue));
            var index = _cluster.Primaries.ToList().IndexOf(owner);
            names[index] ??= queue;
        }

        return (names[0]!, names[1]!);
    }

    private static NewTask Task(string queue) => new(queue, "echo", "hello"u8.ToArray());

    /// <summary>WAIT calls so far on each primary, in primary order.</summary>
    private async Task<long[]> WaitCallsAsync()
    {
        var calls = new List<long>();
        foreach (var primary in _cluster.Primaries)
        {
            await using var connection = await primary.ConnectAsync();
            calls.Add(RedisInfo.Parse(await connection.InfoAsync(CancellationToken.None)).Calls("wait"));
        }

        return [.. calls];
    }
}
