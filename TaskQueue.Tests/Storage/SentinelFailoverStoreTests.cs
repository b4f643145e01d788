using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// The store through Sentinel (<see cref="RedisSentinelProcess"/>): a connection string with <c>serviceName=</c> reaches
/// the primary, and after the primary is SIGKILLed and the replica promoted the same connection writes to the new
/// primary, whose script cache is empty (the scripts are sent again), with what was replicated before the kill intact.
/// </summary>
public sealed class SentinelFailoverStoreTests
{
    [Fact]
    public async Task After_the_primary_is_killed_the_store_writes_to_the_promoted_replica_and_finds_the_replicated_tasks()
    {
        await using var topology = await RedisSentinelProcess.StartAsync(extraArguments: RedisServerSettings.NoPersistence);
        await using var connection = await ConnectionMultiplexer.ConnectAsync($"{topology.ConnectionString},abortConnect=true,connectTimeout=2000");
        var store = new RedisTaskStore(connection, Options.Create(new TaskStoreOptions { AckReplicas = 1, AckTimeout = TaskStoreOptions.MaxAckTimeout }), new RedisClockShift());
        var queue = "q-" + Guid.NewGuid().ToString("N")[..12];
        var before = await store.EnqueueBatchAsync([Task(queue), Task(queue)]); // acknowledged by the replica
        var first = await topology.PrimaryAsync();

        var killed = await topology.KillPrimaryAsync();
        var promoted = await topology.WaitForFailoverAsync(killed, TimeSpan.FromSeconds(30));
        // The killed node comes back as the promoted one's replica (else AckReplicas=1 could not be met).
        await topology.RestartAsReplicaAsync(killed, promoted, TimeSpan.FromSeconds(30));
        var after = await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    return await store.EnqueueBatchAsync([Task(queue)]);
                }
                catch (Exception ex) when (ex is RedisException or ReplicaAckException)
                {
                    return null;
                }
            },
            results => results is not null,
            TimeSpan.FromSeconds(30),
            "a submit through the sentinels is acknowledged after the failover");

        Assert.Same(killed, first);
        Assert.NotEqual(killed.Port, promoted.Port);
        Assert.Single(after!);
        foreach (var task in before)
        {
            Assert.Equal(TaskState.Ready, (await store.GetAsync(task.Id))?.State);
        }

        // The scripts ran on the new primary from its empty script cache.
        await using var primary = await promoted.ConnectAsync();
        var calls = RedisInfo.Parse(await primary.InfoAsync(CancellationToken.None));
        Assert.True(calls.Calls("eval") >= 1, "the new primary was never sent a script in full");
    }

    private static NewTask Task(string queue) => new(queue, "echo", "hello"u8.ToArray());
}
