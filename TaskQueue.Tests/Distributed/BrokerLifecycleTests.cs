using System.Text.Json;
using Grpc.Core;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Distributed;

/// <summary>What a broker's own comings and goings must not do to the workers and clients around it.</summary>
[Collection(DistributedCollection.Name)]
public sealed class BrokerLifecycleTests
{
    [Fact]
    public async Task Leases_granted_before_a_workers_connection_do_not_count_towards_its_quarantine()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var workerId = $"survivor-{cluster.Queue}";
        var ids = (await cluster.Store.EnqueueBatchAsync(
            [.. Enumerable.Range(0, 5).Select(i => new NewTask(cluster.Queue, "echo", System.Text.Encoding.UTF8.GetBytes($"t{i}")))]))
            .Select(r => r.Id.ToString()).ToList();
        // A broker claimed these for the worker and died before delivering them: the worker never saw them.
        var undelivered = await cluster.Store.ClaimAsync(cluster.Queue, workerId, 5, TimeSpan.FromSeconds(4));
        Assert.Equal(5, undelivered.Tasks.Count);

        cluster.StartWorker(workerId, concurrency: 2);
        await cluster.WaitForWorkersAsync(workerId);
        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(45));

        Assert.All(final, t => Assert.Equal(StoreState.Completed, t.State));
        Assert.All(final, t => Assert.Equal(2, t.Attempt));
        var worker = (await cluster.GetWorkersAsync())[workerId];
        Assert.NotEqual(WorkerStatuses.Quarantined, worker.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_stopping_broker_answers_open_waits_and_watches_unavailable_at_once_never_ok_with_an_unfinished_state()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var client = cluster.Client();
        var id = (await cluster.SubmitAsync([cluster.Task("echo", "nobody runs this")]))[0];
        var wait = client.WaitAsync(new WaitTaskRequest { TaskId = id, Timeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMinutes(2)) })
            .ResponseAsync;
        using var watch = client.Watch(new WatchTaskRequest { TaskId = id });
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(TaskEventKind.Snapshot, watch.ResponseStream.Current.Kind);
        var db = cluster.Redis.Connection.GetDatabase();
        await Eventually.TrueAsync(
            async () => await db.SetLengthAsync($"tq:{{{cluster.Queue}}}:waiters") == 1 && await db.HashLengthAsync(RedisKeys.Watchers(cluster.Queue)) == 1,
            TimeSpan.FromSeconds(10),
            cluster.Diagnostics);

        broker.Process.Terminate();
        var waited = await Assert.ThrowsAsync<RpcException>(() => wait.WaitAsync(TimeSpan.FromSeconds(20)));
        var watched = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Equal(StatusCode.Unavailable, waited.StatusCode);
        Assert.Equal(StatusCode.Unavailable, watched.StatusCode);
        Assert.True(await broker.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)), "the broker exited");
    }

    [Fact]
    public async Task A_client_wait_outlives_a_broker_restart_and_returns_the_final_state()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var channel = cluster.Channel(broker, cluster.AdminKey);
        var client = new TaskQueue.Client.TaskQueueClient(channel);
        var id = (await cluster.SubmitAsync([cluster.Task("echo", "after the restart")]))[0];
        var wait = client.WaitAsync(id, TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync(
            async () => await cluster.Redis.Connection.GetDatabase().SetLengthAsync($"tq:{{{cluster.Queue}}}:waiters") == 1,
            TimeSpan.FromSeconds(10),
            cluster.Diagnostics);

        broker.Process.Terminate();
        await broker.Process.WaitForExitAsync(TimeSpan.FromSeconds(20));
        var restarted = await cluster.StartBrokerAsync(restartOf: broker);
        cluster.StartWorker($"after-{cluster.Queue}", broker: restarted);
        var snapshot = await wait.WaitAsync(TimeSpan.FromSeconds(45));

        Assert.Equal(TaskQueue.Client.TaskState.Completed, snapshot.State);
    }

    [Fact]
    public async Task Leases_that_run_out_while_redis_is_frozen_do_not_quarantine_their_worker()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await TaskQueueCluster.StartAsync(redis, lease: TimeSpan.FromSeconds(3));
        await cluster.StartBrokerAsync();
        var workerId = $"survivor-{cluster.Queue}";
        cluster.StartWorker(workerId, concurrency: 4);
        await cluster.WaitForWorkersAsync(workerId);
        var ids = await cluster.SubmitAsync(Enumerable.Range(0, 4).Select(_ => cluster.Task("sleep", "6000")));
        await Eventually.TrueAsync(
            async () => (await cluster.Store.GetCountsAsync(cluster.Queue)).Leased == 4, TimeSpan.FromSeconds(20), () => "the worker runs all four");

        // Frozen past the whole lease: no renewal can land, and the four leases run out while it is frozen.
        redis.Freeze();
        await Task.Delay(TimeSpan.FromSeconds(5));
        redis.Thaw();
        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(60));

        Assert.All(final, t => Assert.Equal(StoreState.Completed, t.State));
        // Each lease ran out once, in the freeze: attempt 2 completed (attempt 3 = a second lease lost after the thaw).
        Assert.True(final.All(t => t.Attempt == 2), $"attempts {string.Join(", ", final.Select(t => t.Attempt))}\n{cluster.Diagnostics()}");
        var worker = (await cluster.GetWorkersAsync())[workerId];
        Assert.Equal(JsonValueKind.Null, worker.TryGetProperty("quarantined_until", out var until) ? until.ValueKind : JsonValueKind.Null);
        Assert.NotEqual(WorkerStatuses.Quarantined, worker.GetProperty("status").GetString());
    }
}
