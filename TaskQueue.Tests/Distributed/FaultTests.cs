using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Distributed;

[Collection(DistributedCollection.Name)]
public sealed class FaultTests
{
    private static Google.Protobuf.WellKnownTypes.Duration Seconds(int s) => Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(s));

    [Fact]
    public async Task A_worker_killed_mid_task_has_its_task_completed_elsewhere_within_seconds()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(lease: TimeSpan.FromSeconds(30));
        await cluster.StartBrokerAsync();
        var victimId = $"victim-{cluster.Queue}";
        var victim = cluster.StartWorker(victimId, concurrency: 1);
        await cluster.WaitForWorkersAsync(victimId);
        var client = cluster.Client();
        var id = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("sleep", "3000") })).TaskId;
        await Eventually.TrueAsync(async () => (await client.GetAsync(new GetTaskRequest { TaskId = id })).State == Protocol.V1.TaskState.Leased,
            TimeSpan.FromSeconds(15), cluster.Diagnostics);

        victim.Kill();
        var rescuerId = $"rescuer-{cluster.Queue}";
        cluster.StartWorker(rescuerId, concurrency: 1);

        // Well under the 30 s lease: the broken stream shortens the lease to the 1 s grace.
        var final = await client.WaitAsync(new WaitTaskRequest { TaskId = id, Timeout = Seconds(20) });
        Assert.Equal(Protocol.V1.TaskState.Completed, final.State);
        Assert.Equal(rescuerId, final.WorkerId);
        Assert.Equal(2, final.Attempt);
    }

    [Fact]
    public async Task A_zombie_workers_late_completion_is_rejected_and_the_current_holders_result_stands()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(lease: TimeSpan.FromSeconds(2));
        await cluster.StartBrokerAsync();
        var client = cluster.Client();
        var (zombie, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(), $"zombie-{cluster.Queue}", cluster.Queue, 1);
        await using var _z = zombie;
        var id = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("echo", "payload") })).TaskId;
        var stale = (await zombie.NextAsync(BrokerMessage.KindOneofCase.Assignment, TimeSpan.FromSeconds(10))).Assignment;
        await zombie.SendAsync(new WorkerMessage { Draining = new Draining() }); // so the retry goes to the other worker

        // The zombie keeps its stream alive but lets the lease lapse (it never lists the task).
        zombie.StartHeartbeats(TimeSpan.FromMilliseconds(300), () => []);
        var (current, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(), $"current-{cluster.Queue}", cluster.Queue, 1);
        await using var _c = current;
        current.StartHeartbeats(TimeSpan.FromMilliseconds(300), () => []);
        var fresh = (await current.NextAsync(BrokerMessage.KindOneofCase.Assignment, TimeSpan.FromSeconds(20))).Assignment;
        Assert.Equal(stale.TaskId, fresh.TaskId);
        Assert.NotEqual(stale.LeaseToken, fresh.LeaseToken);

        await zombie.SendAsync(new WorkerMessage { Completed = new TaskCompleted { TaskId = id, LeaseToken = stale.LeaseToken, Result = Google.Protobuf.ByteString.CopyFromUtf8("zombie") } });
        var told = await zombie.NextAsync(BrokerMessage.KindOneofCase.LeaseLost, TimeSpan.FromSeconds(10));
        await current.SendAsync(new WorkerMessage { Completed = new TaskCompleted { TaskId = id, LeaseToken = fresh.LeaseToken, Result = Google.Protobuf.ByteString.CopyFromUtf8("current") } });
        var final = await client.WaitAsync(new WaitTaskRequest { TaskId = id, Timeout = Seconds(10) });

        Assert.Equal(id, told.LeaseLost.TaskId);
        Assert.Equal(Protocol.V1.TaskState.Completed, final.State);
        Assert.Equal("current", final.Result.ToStringUtf8());
        var counts = await cluster.Store.GetCountsAsync(cluster.Queue);
        Assert.Equal((1, 1), (counts.Completed, counts.StaleRejected));
    }

    [Fact]
    public async Task A_poison_worker_is_quarantined_and_no_healthy_task_dead_letters()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(lease: TimeSpan.FromSeconds(2));
        await cluster.StartBrokerAsync();
        var poisonId = $"poison-{cluster.Queue}";
        var (poison, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(), poisonId, cluster.Queue, 4);
        await using var _p = poison;
        poison.StartHeartbeats(TimeSpan.FromMilliseconds(300), () => []);

        var ids = await cluster.SubmitAsync(Enumerable.Range(0, 40).Select(i => cluster.Task("echo", $"t{i}", maxAttempts: 4)));
        var healthyId = $"healthy-{cluster.Queue}";
        cluster.StartWorker(healthyId, concurrency: 4);

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(60));
        var workers = await cluster.GetWorkersAsync();

        Assert.All(final, t => Assert.Equal(StoreState.Completed, t.State));
        Assert.All(final, t => Assert.Equal(healthyId, t.WorkerId));
        Assert.Equal("quarantined", workers[poisonId].GetProperty("status").GetString());
        Assert.Equal(0, (await cluster.Store.GetCountsAsync(cluster.Queue)).DeadLettered);
    }

    [Fact]
    public async Task A_broker_restart_loses_nothing_and_reruns_nothing_whose_worker_stayed_alive()
    {
        // The default lease: a broker restart under load (start-up plus the workers' reconnect backoff) can
        // take longer than a short test lease, and a lease nobody can renew rightly expires.
        await using var cluster = await TaskQueueCluster.StartAsync(lease: TimeSpan.FromSeconds(30));
        var broker = await cluster.StartBrokerAsync();
        string[] workers = [$"r1-{cluster.Queue}", $"r2-{cluster.Queue}"];
        foreach (var w in workers)
        {
            cluster.StartWorker(w, concurrency: 4);
        }

        await cluster.WaitForWorkersAsync(workers);
        var slow = await cluster.SubmitAsync(Enumerable.Range(0, 6).Select(_ => cluster.Task("sleep", "4000")));
        await Eventually.TrueAsync(async () => (await cluster.Store.GetCountsAsync(cluster.Queue)).Leased == 6, TimeSpan.FromSeconds(15), cluster.Diagnostics);

        broker.Process.Kill();
        await broker.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var quick = await cluster.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 50).Select(i => new NewTask(cluster.Queue, "echo", System.Text.Encoding.UTF8.GetBytes($"q{i}")))]);
        await cluster.StartBrokerAsync(restartOf: broker);

        var final = await cluster.WaitAllFinalAsync([.. slow, .. quick.Select(q => q.Id.ToString())], TimeSpan.FromSeconds(60));

        Assert.All(final, t => Assert.Equal(StoreState.Completed, t.State));
        Assert.All(final, t => Assert.Equal(1, t.Attempt));
    }

    [Fact]
    public async Task A_worker_stopped_with_sigterm_finishes_its_tasks_and_hands_back_the_rest()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(lease: TimeSpan.FromSeconds(30));
        await cluster.StartBrokerAsync();
        var drainingId = $"drain-{cluster.Queue}";
        var draining = cluster.StartWorker(drainingId, concurrency: 2, settings: new Dictionary<string, string> { ["Worker__DrainTimeout"] = "00:00:03" });
        await cluster.WaitForWorkersAsync(drainingId);
        var client = cluster.Client();
        var shortTask = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("sleep", "1000") })).TaskId;
        var longTask = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("sleep", "60000") })).TaskId;
        await Eventually.TrueAsync(async () => (await cluster.Store.GetCountsAsync(cluster.Queue)).Leased == 2, TimeSpan.FromSeconds(15), cluster.Diagnostics);

        draining.Terminate();
        Assert.True(await draining.WaitForExitAsync(TimeSpan.FromSeconds(20)), cluster.Diagnostics());
        var finished = await client.GetAsync(new GetTaskRequest { TaskId = shortTask });
        var handedBack = await client.GetAsync(new GetTaskRequest { TaskId = longTask });

        Assert.Equal(0, draining.ExitCode);
        Assert.Equal((Protocol.V1.TaskState.Completed, drainingId), (finished.State, finished.WorkerId));
        Assert.Equal(Protocol.V1.TaskState.Ready, handedBack.State);
        Assert.Equal(0, handedBack.Attempt);
    }
}
