using Microsoft.Extensions.Configuration;
using TaskQueue.Broker.Storage;
using TaskQueue.Cli;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using TaskState = TaskQueue.Protocol.V1.TaskState;

namespace TaskQueue.Tests.Explain;

/// <summary>
/// Explain against a real broker: the reasons that involve workers, with real worker streams (a worker process, and
/// hand-driven streams where the test must hold slots), and each reason flipping within a second of its cause going away.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class ExplainProcessTests
{
    private static readonly TimeSpan s_flip = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_task_without_a_worker_for_its_queue_flips_when_one_connects_then_is_leased_by_it_and_completes()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var client = cluster.Client();
        var id = (await cluster.SubmitAsync([cluster.Task("sleep", "3000")])).Single();

        var before = await client.ExplainAsync(new ExplainTaskRequest { TaskId = id });
        var (exitCode, printed) = await WhyAsync(cluster, broker, id);

        Assert.Equal(ExplainReason.NoWorkerForQueue, before.Reason);
        Assert.Equal(TaskState.Ready, before.State);
        Assert.Equal($"no connected worker consumes queue '{cluster.Queue}'", before.Detail);
        Assert.Equal(0, exitCode);
        Assert.Contains("reason: noWorkerForQueue", printed, StringComparison.Ordinal);

        var worker = $"why-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 1);
        await cluster.WaitForWorkersAsync(worker);
        await Eventually.TrueAsync(
            async () => (await client.ExplainAsync(new ExplainTaskRequest { TaskId = id })).Reason != ExplainReason.NoWorkerForQueue,
            s_flip,
            "Explain stopped saying no worker consumes the queue once one connected");
        var leased = await Eventually.UntilAsync(
            async () => await client.ExplainAsync(new ExplainTaskRequest { TaskId = id }),
            why => why.Reason == ExplainReason.Leased,
            TimeSpan.FromSeconds(10),
            "the task was leased");
        Assert.Equal(worker, leased.WorkerId);
        Assert.True(leased.Until.ToDateTimeOffset() > DateTimeOffset.UtcNow);
        Assert.StartsWith($"leased by {worker} until ", leased.Detail, StringComparison.Ordinal);
        var done = await Eventually.UntilAsync(
            async () => await client.ExplainAsync(new ExplainTaskRequest { TaskId = id }),
            why => why.Reason == ExplainReason.Completed,
            TimeSpan.FromSeconds(15),
            "the task completed");
        Assert.Equal(TaskState.Completed, done.State);
    }

    [Fact]
    public async Task Busy_slots_tasks_ahead_quarantine_and_a_missing_type_are_explained_and_each_flips_when_its_cause_goes()
    {
        // A 3 s lease: brokers record each worker's busy slots every second.
        await using var cluster = await TaskQueueCluster.StartAsync(lease: TimeSpan.FromSeconds(3));
        await cluster.StartBrokerAsync();
        var client = cluster.Client();
        var echoOnly = $"echo-only-{cluster.Queue}";
        var (worker, _) = await RawWorker.ConnectAsync(
            cluster.WorkerClient(),
            new Hello { WorkerId = echoOnly, Queues = { cluster.Queue }, Concurrency = 1, TaskTypes = { "echo" } });
        await using var echoStream = worker;
        await cluster.SubmitAsync([cluster.Task("echo", "held")]);
        var held = (await worker.NextAsync(BrokerMessage.KindOneofCase.Assignment, TimeSpan.FromSeconds(10))).Assignment;
        var running = new List<RunningTask> { new() { TaskId = held.TaskId, LeaseToken = held.LeaseToken } };
        worker.StartHeartbeats(TimeSpan.FromMilliseconds(300), () =>
        {
            lock (running)
            {
                return [.. running];
            }
        });
        var ids = await cluster.SubmitAsync([cluster.Task("echo", "first"), cluster.Task("echo", "second"), cluster.Task("sleep", "1")]);
        var (first, second, sleep) = (ids[0], ids[1], ids[2]);

        var busy = await Eventually.UntilAsync(
            () => ExplainAsync(client, first), why => why.Reason == ExplainReason.AllSlotsBusy, TimeSpan.FromSeconds(10), "the head task waited for a slot");
        var behind = await ExplainAsync(client, second);
        var untyped = await ExplainAsync(client, sleep);

        Assert.StartsWith("next in line; all 1 slot of 1 worker that could run it are busy", busy.Detail, StringComparison.Ordinal);
        Assert.Equal((ExplainReason.WaitingBehind, 1L, false), (behind.Reason, behind.Ahead, behind.AheadIsLowerBound));
        Assert.Equal(ExplainReason.NoWorkerForType, untyped.Reason);
        Assert.Contains("none handles type 'sleep'", untyped.Detail, StringComparison.Ordinal);

        // Quarantined (as the reaper would record it), then trusted again.
        var registry = new WorkerRegistry(cluster.Redis.Connection);
        await registry.QuarantineAsync(echoOnly, DateTimeOffset.UtcNow.AddMinutes(5));
        Assert.Equal(ExplainReason.WorkerQuarantined, (await ExplainAsync(client, first)).Reason);
        await cluster.Redis.Connection.GetDatabase().HashSetAsync(RedisKeys.Worker(echoOnly), WorkerFields.QuarantinedUntil, 0);
        await Eventually.TrueAsync(
            async () => (await ExplainAsync(client, first)).Reason == ExplainReason.AllSlotsBusy, s_flip, "the quarantine's end showed");

        // The held slot comes free: the head task is leased, the one behind it moves to the head.
        lock (running)
        {
            running.Clear();
        }

        await worker.SendAsync(new WorkerMessage { Completed = new TaskCompleted { TaskId = held.TaskId, LeaseToken = held.LeaseToken } });
        var next = (await worker.NextAsync(BrokerMessage.KindOneofCase.Assignment, s_flip)).Assignment;
        lock (running)
        {
            running.Add(new RunningTask { TaskId = next.TaskId, LeaseToken = next.LeaseToken });
        }

        Assert.Equal(first, next.TaskId);
        await Eventually.TrueAsync(
            async () => (await ExplainAsync(client, first)).Reason == ExplainReason.Leased, s_flip, "the head task was leased once its slot came free");
        await Eventually.TrueAsync(
            async () => (await ExplainAsync(client, second)).Reason != ExplainReason.WaitingBehind, s_flip, "the task behind moved to the head");

        // A worker for every type connects: the sleep task no longer lacks one.
        var (anyType, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(), $"any-{cluster.Queue}", cluster.Queue, concurrency: 1);
        await using var anyStream = anyType;
        await Eventually.TrueAsync(
            async () => (await ExplainAsync(client, sleep)).Reason != ExplainReason.NoWorkerForType, s_flip, "a worker for its type connected");
    }

    private static Task<ExplainTaskResponse> ExplainAsync(TaskService.TaskServiceClient client, string id) =>
        client.ExplainAsync(new ExplainTaskRequest { TaskId = id }).ResponseAsync;

    /// <summary>Runs <c>taskqueue why</c> against the broker; returns its exit code and output.</summary>
    private static async Task<(int ExitCode, string Output)> WhyAsync(TaskQueueCluster cluster, TaskQueueCluster.Broker broker, string id)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await TaskQueueCli.InvokeAsync(
            ["why", id, "--broker", broker.GrpcAddress, "--api-key", cluster.AdminKey], output, error, new ConfigurationBuilder().Build());
        return (exitCode, output + error.ToString());
    }
}
