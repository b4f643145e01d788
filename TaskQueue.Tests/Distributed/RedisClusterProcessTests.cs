using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// Broker and worker processes on the shared test Redis Cluster (3 primaries): the broker finds cluster mode from the
/// connection string alone, and dispatch, retries (the promoter's per-slot due index), Wait (pub/sub) and cancel
/// (pub/sub to the lease holder's broker) work with the queue on any shard; priorities and credits hold for workers
/// serving queues on every primary through two brokers.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class RedisClusterProcessTests
{
    [Fact]
    public async Task Two_brokers_on_a_Redis_Cluster_complete_every_task_once_retry_the_flaky_and_cancel_the_running()
    {
        var redis = await RedisCluster.Shared;
        await using var cluster = await TaskQueueCluster.StartAsync(redis);
        var a = await cluster.StartBrokerAsync();
        var b = await cluster.StartBrokerAsync();
        string[] workers = [$"a1-{cluster.Queue}", $"b1-{cluster.Queue}"];
        cluster.StartWorker(workers[0], 4, a);
        cluster.StartWorker(workers[1], 4, b);
        await cluster.WaitForWorkersAsync(workers);
        var client = cluster.Client(b);

        var ids = (await cluster.SubmitAsync(Enumerable.Range(0, 300).Select(i => cluster.Task("echo", $"a{i}")), a))
            .Concat(await cluster.SubmitAsync(Enumerable.Range(0, 300).Select(i => cluster.Task("echo", $"b{i}")), b))
            .ToList();
        var flaky = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("fail", "2", maxAttempts: 5) })).TaskId;
        var running = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("sleep", "60000") })).TaskId;
        await Eventually.TrueAsync(
            async () => (await client.GetAsync(new GetTaskRequest { TaskId = running })).State == Protocol.V1.TaskState.Leased,
            TimeSpan.FromSeconds(30), cluster.Diagnostics);
        var cancel = await client.CancelAsync(new CancelTaskRequest { TaskId = running });

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(90));
        var wait = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(30));
        var flakyFinal = await client.WaitAsync(new WaitTaskRequest { TaskId = flaky, Timeout = wait });
        var cancelled = await client.WaitAsync(new WaitTaskRequest { TaskId = running, Timeout = wait });

        Assert.All(final, t => Assert.Equal(Broker.Storage.TaskState.Completed, t.State));
        Assert.All(final, t => Assert.Equal(1, t.Attempt));
        Assert.Equal(final.Select(t => t.Payload.ToArray()), final.Select(t => t.Result.ToArray()));
        Assert.Equal((Protocol.V1.TaskState.Completed, 3), (flakyFinal.State, flakyFinal.Attempt));
        Assert.True(cancel.CancelRequested);
        Assert.Equal(Protocol.V1.TaskState.Cancelled, cancelled.State);
        var counts = await cluster.Store.GetCountsAsync(cluster.Queue);
        Assert.Equal((602L, 601L, 2L, 0L), (counts.Submitted, counts.Completed, counts.Retried, counts.StaleRejected));
        Assert.Contains(cluster.Queue, await cluster.Store.GetQueuesAsync());
        Assert.Contains(final, t => t.WorkerId == workers[0]);
        Assert.Contains(final, t => t.WorkerId == workers[1]);
    }

    [Fact]
    public async Task Workers_serving_queues_on_every_primary_through_two_brokers_take_the_highest_priority_first_and_never_exceed_their_slots()
    {
        const int Slots = 2;
        var redis = await RedisCluster.Shared;
        await using var cluster = await TaskQueueCluster.StartAsync(
            redis, brokerSettings: new Dictionary<string, string> { ["TaskQueue__Store__PriorityMaxWait"] = "00:00:00" }); // strict priority
        var a = await cluster.StartBrokerAsync();
        var b = await cluster.StartBrokerAsync();
        var queues = await QueuesOnEveryPrimaryAsync(redis, cluster.Queue);
        // Queued before any worker connects: every claim chooses among all of them.
        var specs = queues.SelectMany(queue => Enumerable.Range(0, 16).Select(i =>
        {
            var spec = cluster.Task("sleep", "20");
            (spec.Queue, spec.Priority) = (queue, i % 2 == 0 ? 0 : 9);
            return spec;
        }));
        var ids = await cluster.SubmitAsync(specs, a);
        string[] workers = [$"a1-{cluster.Queue}", $"b1-{cluster.Queue}"];
        var serveAll = new Dictionary<string, string> { ["Worker__Queues"] = string.Join(',', queues) };
        cluster.StartWorker(workers[0], Slots, a, serveAll);
        cluster.StartWorker(workers[1], Slots, b, serveAll);

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(90));

        Assert.All(final, t => Assert.Equal((Broker.Storage.TaskState.Completed, 1), (t.State, t.Attempt)));
        foreach (var queue in queues)
        {
            var ofQueue = final.Where(t => t.Id.Queue == queue).ToList();
            var lastHigh = ofQueue.Where(t => t.Priority == 9).Max(t => t.StartedAt!.Value);
            var firstLow = ofQueue.Where(t => t.Priority == 0).Min(t => t.StartedAt!.Value);
            Assert.True(lastHigh <= firstLow, $"{queue}: a priority-0 task started at {firstLow:O}, before the last priority-9 one at {lastHigh:O}");
        }

        foreach (var worker in workers)
        {
            var ran = final.Where(t => t.WorkerId == worker).ToList();
            Assert.NotEmpty(ran); // each broker dispatched
            Assert.InRange(Overlap.PeakLeased(ran), 1, Slots);
        }

        Assert.Equal(queues.Length, final.Select(t => t.Id.Queue).Distinct().Count());
    }

    /// <summary>Three queues (the cluster's own first) whose slots the three different primaries serve.</summary>
    private static async Task<string[]> QueuesOnEveryPrimaryAsync(RedisCluster redis, string queue)
    {
        var byPrimary = new Dictionary<int, string> { [(await redis.Process.OwnerOfAsync(ClusterSlots.OfQueue(queue))).Port] = queue };
        for (var i = 1; byPrimary.Count < redis.Process.Primaries.Count; i++)
        {
            var candidate = $"{queue}-{i}";
            byPrimary.TryAdd((await redis.Process.OwnerOfAsync(ClusterSlots.OfQueue(candidate))).Port, candidate);
        }

        return [.. byPrimary.Values];
    }
}
