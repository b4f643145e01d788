using System.Text.Json;
using Grpc.Core;
using TaskQueue.Broker.Audit;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// DrainWorker across brokers with real processes: the call goes to the broker that does not hold the worker's stream, the
/// worker finishes what it runs and is offered nothing new, and it stays draining through a restart of its broker; a worker
/// drained while it is between connections is drained when it reconnects.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class WorkerDrainProcessTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_worker_drained_through_another_broker_finishes_its_task_takes_nothing_new_and_stays_draining_after_its_broker_restarts()
    {
        var readerKey = ApiKeys.Create();
        var otherAdminKey = ApiKeys.Create();
        var settings = new Dictionary<string, string>(TestCredentials.KeySettings("reader", readerKey, "read:*"));
        foreach (var (key, value) in TestCredentials.KeySettings("other-admin", otherAdminKey, "admin:elsewhere-* read:*"))
        {
            settings[key] = value;
        }

        // A short lease: heartbeats (lease / 3) list the running task within a second.
        await using var cluster = await TaskQueueCluster.StartAsync(lease: TimeSpan.FromSeconds(3), brokerSettings: settings);
        var brokerA = await cluster.StartBrokerAsync();
        var brokerB = await cluster.StartBrokerAsync();
        var drained = $"drained-{cluster.Queue}";
        cluster.StartWorker(drained, concurrency: 2, broker: brokerA);
        await cluster.WaitForWorkersAsync(drained);
        var running = (await cluster.SubmitAsync([cluster.Task("sleep", "4000")], brokerA))[0];
        await Eventually.TrueAsync(
            async () => RunningTasks(await cluster.GetWorkersAsync(brokerB), drained).Contains(running),
            s_wait, () => "GET /workers lists the running task\n" + cluster.Diagnostics());

        // Refusals change nothing: bad input, an unknown worker, read scope, admin on other queues.
        var viaB = cluster.Client(brokerB);
        var codes = new[]
        {
            await RpcCodes.Of(() => viaB.DrainWorkerAsync(new DrainWorkerRequest { WorkerId = "" }).ResponseAsync),
            await RpcCodes.Of(() => viaB.DrainWorkerAsync(new DrainWorkerRequest { WorkerId = "no-such-" + cluster.Queue }).ResponseAsync),
            await RpcCodes.Of(() => cluster.Client(brokerB, readerKey).DrainWorkerAsync(new DrainWorkerRequest { WorkerId = drained }).ResponseAsync),
            await RpcCodes.Of(() => cluster.Client(brokerB, otherAdminKey).DrainWorkerAsync(new DrainWorkerRequest { WorkerId = drained }).ResponseAsync),
        };
        var statusAfterRefusals = Status(await cluster.GetWorkersAsync(brokerB), drained);

        var answer = await viaB.DrainWorkerAsync(new DrainWorkerRequest { WorkerId = drained });
        var statusAfterDrain = Status(await cluster.GetWorkersAsync(brokerA), drained);
        var others = await cluster.SubmitAsync(Enumerable.Range(0, 3).Select(i => cluster.Task("echo", $"after the drain {i}")), brokerB);
        var taker = $"taker-{cluster.Queue}";
        cluster.StartWorker(taker, concurrency: 2, broker: brokerB);
        var final = await cluster.WaitAllFinalAsync([running, .. others], s_wait);

        Assert.Equal([StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.PermissionDenied, StatusCode.PermissionDenied], codes);
        Assert.Equal(WorkerStatuses.Busy, statusAfterRefusals);
        Assert.Equal(WorkerStatuses.Draining, answer.Status);
        Assert.False(answer.DeliveredHere, "broker B holds no stream of the worker");
        // Every broker on the Redis hears it (the run's Redis is shared: other tests' brokers too), broker A among them.
        Assert.True(answer.BrokersTold >= 1, $"{answer.BrokersTold} brokers told");
        Assert.Equal(WorkerStatuses.Draining, statusAfterDrain);
        Assert.All(final, t => Assert.Equal(StoreState.Completed, t.State));
        Assert.Equal(drained, final[0].WorkerId);
        Assert.All(final.Skip(1), t => Assert.Equal(taker, t.WorkerId));

        // Its broker restarts: the worker reconnects saying it drains, and is offered nothing again. A second worker of that
        // broker is drained while it is between connections: when the same process reconnects, the drain holds for it.
        var between = $"between-{cluster.Queue}";
        cluster.StartWorker(between, concurrency: 2, broker: brokerA);
        await cluster.WaitForWorkersAsync(between);
        brokerA.Process.Terminate();
        await brokerA.Process.WaitForExitAsync(TimeSpan.FromSeconds(20));
        await Eventually.TrueAsync(
            async () => Status(await cluster.GetWorkersAsync(brokerB), between) == WorkerStatuses.Disconnected,
            s_wait, () => "the second worker shows disconnected\n" + cluster.Diagnostics());
        var betweenAnswer = await viaB.DrainWorkerAsync(new DrainWorkerRequest { WorkerId = between });
        var restartedAt = DateTimeOffset.UtcNow;
        var restarted = await cluster.StartBrokerAsync(restartOf: brokerA);
        foreach (var workerId in (string[])[drained, between])
        {
            await Eventually.TrueAsync(
                async () => (await cluster.GetWorkersAsync(restarted)).TryGetValue(workerId, out var w)
                    && w.GetProperty("last_heartbeat").GetDateTimeOffset() > restartedAt && w.GetProperty("status").GetString() != WorkerStatuses.Disconnected,
                s_wait, () => $"{workerId} reconnected\n" + cluster.Diagnostics());
        }
        var later = await cluster.SubmitAsync(Enumerable.Range(0, 3).Select(i => cluster.Task("echo", $"after the restart {i}")), restarted);
        var laterFinal = await cluster.WaitAllFinalAsync(later, s_wait);
        var audit = await viaB.ListAuditEntriesAsync(new ListAuditEntriesRequest { Queue = cluster.Queue });

        Assert.Equal(WorkerStatuses.Draining, Status(await cluster.GetWorkersAsync(restarted), drained));
        Assert.Equal(WorkerStatuses.Draining, betweenAnswer.Status);
        Assert.Equal(WorkerStatuses.Draining, Status(await cluster.GetWorkersAsync(restarted), between));
        Assert.All(laterFinal, t => Assert.Equal(taker, t.WorkerId));
        var drains = audit.Entries.Where(e => e.Action == AuditActions.DrainWorker && e.Target == "worker:" + drained).ToList();
        Assert.Equal([$"{AuditOutcomes.Ok}: drain published to {answer.BrokersTold} broker(s)", AuditOutcomes.Denied], drains.Select(e => e.Outcome));
        Assert.Equal(cluster.Queue, drains[0].Queue);
    }

    private static string? Status(Dictionary<string, JsonElement> workers, string workerId) =>
        workers.TryGetValue(workerId, out var worker) ? worker.GetProperty("status").GetString() : null;

    private static List<string> RunningTasks(Dictionary<string, JsonElement> workers, string workerId) =>
        workers.TryGetValue(workerId, out var worker) ? [.. worker.GetProperty("running_tasks").EnumerateArray().Select(t => t.GetString()!)] : [];
}
