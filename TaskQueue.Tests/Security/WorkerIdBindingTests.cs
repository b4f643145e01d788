using Grpc.Core;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Security;

/// <summary>
/// Found from outside: a Hello reusing a live worker's id (read from /workers) was accepted; the impostor took the
/// tasks, let their leases expire, and the real worker was quarantined (0 of 3 later tasks done). A worker id now
/// belongs to the identity that first used it.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class WorkerIdBindingTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_hello_with_a_live_workers_id_from_another_identity_is_refused_and_the_real_worker_keeps_working()
    {
        await using var redis = await RedisServer.StartAsync();
        var impostorKey = ApiKeys.Create();
        await using var cluster = await TaskQueueCluster.StartAsync(redis, brokerSettings: TestCredentials.KeySettings("impostor", impostorKey, "consume:*"));
        var broker = await cluster.StartBrokerAsync();
        var workerId = $"real-{cluster.Queue}";
        cluster.StartWorker(workerId, concurrency: 2);
        await cluster.WaitForWorkersAsync(workerId);
        Assert.Contains(workerId, (await cluster.GetWorkersAsync()).Keys); // what the attacker reads
        // The queue the worker named is registered and marked due; the reaper's first visit finds it empty and starts
        // its idle clock (a field in the stats hash). Wait for that write, so the key set compared below is settled.
        await Eventually.TrueAsync(
            () => redis.Connection.GetDatabase().HashExistsAsync(RedisKeys.Stats(cluster.Queue), "idle_since"),
            s_wait,
            "the reaper's first visit started the new queue's idle clock");
        var keysBefore = await AuthorizationMatrixTests.KeysAsync(redis);

        var code = await AuthorizationMatrixTests.ConnectAsync(cluster, broker, impostorKey, anonymous: false, cluster.Queue, workerId);

        Assert.Equal(StatusCode.PermissionDenied, code);
        Assert.Equal(keysBefore, await AuthorizationMatrixTests.KeysAsync(redis));
        Assert.Equal("key:" + TestCredentials.WorkerName, (string?)await redis.Connection.GetDatabase().StringGetAsync(RedisKeys.WorkerOwner(workerId)));
        var ids = await cluster.SubmitAsync([.. Enumerable.Range(0, 3).Select(i => cluster.Task("echo", $"after {i}"))]);
        var done = await cluster.WaitAllFinalAsync(ids, s_wait);
        Assert.All(done, task => Assert.Equal((TaskState.Completed, workerId), (task.State, task.WorkerId)));
        Assert.NotEqual(WorkerStatuses.Quarantined, (await cluster.GetWorkersAsync())[workerId].GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_identity_that_owns_a_worker_id_reconnects_under_it()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var workerId = $"again-{cluster.Queue}";

        var first = await AuthorizationMatrixTests.ConnectAsync(cluster, broker, cluster.Credentials.WorkerKey, anonymous: false, cluster.Queue, workerId);
        var second = await AuthorizationMatrixTests.ConnectAsync(cluster, broker, cluster.Credentials.WorkerKey, anonymous: false, cluster.Queue, workerId);
        var other = await AuthorizationMatrixTests.ConnectAsync(cluster, broker, cluster.AdminKey, anonymous: false, cluster.Queue, workerId);

        Assert.Equal((StatusCode.OK, StatusCode.OK, StatusCode.PermissionDenied), (first, second, other));
    }
}
