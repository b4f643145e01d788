using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// TaskQueue:Store:AckReplicas against a real primary and replica (<c>--replicaof</c>): one WAIT per batch after its
/// script, on the store's connection; a replica that does not answer makes the write a <see cref="ReplicaAckException"/>
/// that says what the primary holds; with 0 nothing waits.
/// </summary>
public sealed class ReplicaAckStoreTests : IAsyncLifetime
{
    private RedisServerProcess _primary = null!;
    private RedisServerProcess _replica = null!;
    private ConnectionMultiplexer _connection = null!;

    public async Task InitializeAsync()
    {
        _primary = await RedisServerProcess.StartAsync(extraArguments: RedisServerSettings.NoPersistence);
        _replica = await RedisServerProcess.StartAsync(
            extraArguments: [.. RedisServerSettings.NoPersistence, "--replicaof", "127.0.0.1", _primary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        _connection = await ConnectionMultiplexer.ConnectAsync($"{_primary.Endpoint},abortConnect=true,allowAdmin=true");
        await Eventually.TrueAsync(
            async () => (await ReplicationAsync(_replica)).Contains("master_link_status:up", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20),
            "the replica is in sync");
    }

    public async Task DisposeAsync()
    {
        _replica.Thaw();
        await _connection.DisposeAsync();
        await _replica.DisposeAsync();
        await _primary.DisposeAsync();
    }

    [Fact]
    public async Task With_a_replica_in_sync_a_submit_over_two_queues_and_a_completion_wait_once_each_and_are_acknowledged()
    {
        var store = Store(ackReplicas: 1, TaskStoreOptions.MaxAckTimeout); // a loaded machine's replica may take its time
        var before = await WaitCallsAsync();

        var results = await store.EnqueueBatchAsync([Task("qa-1"), Task("qa-1"), Task("qa-2")]);
        var leased = Assert.Single((await store.ClaimAsync("qa-2", "w1", 1, TimeSpan.FromSeconds(30))).Tasks);
        var completed = await store.CompleteAsync("qa-2", [new TaskCompletion(leased.Id, leased.LeaseToken, "done"u8.ToArray())]);

        Assert.Equal(3, results.Count);
        Assert.Equal([TransitionResult.Ok], completed);
        Assert.Equal(2, await WaitCallsAsync() - before); // one for the submit (both queues' scripts), one for the completion
        // The replica holds what was acknowledged.
        await using var replica = await _replica.ConnectAsync();
        Assert.Equal("completed", await replica.CallAsync(CancellationToken.None, "HGET", RedisKeys.QueuePrefix("qa-2") + "t:" + leased.Id.LocalId, "state"));
    }

    [Fact]
    public async Task With_the_replica_frozen_a_submit_says_what_the_primary_stored_and_how_many_replicas_acknowledged()
    {
        var store = Store(ackReplicas: 1);
        await Store(ackReplicas: 0).EnqueueBatchAsync([Task("qb")]); // registers the queue
        _replica.Freeze();

        var error = await Assert.ThrowsAsync<ReplicaAckException>(() => store.EnqueueBatchAsync([Task("qb"), Task("qb")]));

        Assert.Equal(new ReplicaAcks(1, 0), error.Acks);
        Assert.Equal("submit", error.Operation);
        Assert.Equal(2, error.Stored.Count);
        foreach (var stored in error.Stored)
        {
            Assert.Equal(TaskState.Ready, (await store.GetAsync(stored.Id))?.State); // the tasks exist on the primary
        }
    }

    [Fact]
    public async Task With_the_replica_frozen_a_completion_is_stored_on_the_primary_but_not_answered_as_settled()
    {
        var store = Store(ackReplicas: 1);
        await Store(ackReplicas: 0).EnqueueBatchAsync([Task("qc")]);
        var leased = Assert.Single((await store.ClaimAsync("qc", "w1", 1, TimeSpan.FromSeconds(30))).Tasks);
        _replica.Freeze();

        var error = await Assert.ThrowsAsync<ReplicaAckException>(
            () => store.CompleteAsync("qc", [new TaskCompletion(leased.Id, leased.LeaseToken, "done"u8.ToArray())]));

        Assert.Equal(("complete", 0, 1), (error.Operation, error.Acks.Acknowledged, error.Acks.Wanted));
        Assert.Equal(TaskState.Completed, (await store.GetAsync(leased.Id))?.State);
    }

    [Fact]
    public async Task With_AckReplicas_0_nothing_waits_for_a_replica()
    {
        var store = Store(ackReplicas: 0);
        var before = await WaitCallsAsync();

        await store.EnqueueBatchAsync([Task("qd"), Task("qd")]);
        var leased = Assert.Single((await store.ClaimAsync("qd", "w1", 1, TimeSpan.FromSeconds(30))).Tasks);
        await store.CompleteAsync("qd", [new TaskCompletion(leased.Id, leased.LeaseToken, "done"u8.ToArray())]);

        Assert.Equal(0, await WaitCallsAsync() - before);
    }

    /// <summary>A store over the primary; a frozen replica makes each of its writes wait <paramref name="ackTimeout"/> (default 300 ms).</summary>
    private RedisTaskStore Store(int ackReplicas, TimeSpan? ackTimeout = null)
    {
        var options = Options.Create(new TaskStoreOptions { AckReplicas = ackReplicas, AckTimeout = ackTimeout ?? TimeSpan.FromMilliseconds(300) });
        return new RedisTaskStore(_connection, options, new RedisClockShift());
    }

    private static NewTask Task(string queue) => new(queue, "echo", "hello"u8.ToArray());

    private async Task<long> WaitCallsAsync()
    {
        await using var primary = await _primary.ConnectAsync();
        return RedisInfo.Parse(await primary.InfoAsync(CancellationToken.None)).Calls("wait");
    }

    private static async Task<string> ReplicationAsync(RedisServerProcess node)
    {
        await using var connection = await node.ConnectAsync();
        return await connection.CallAsync(CancellationToken.None, "INFO", "replication") as string ?? "";
    }
}
