using Grpc.Core;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using TaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// Routing by task type across real processes: workers of the runnable worker limited by
/// <c>Worker:TaskTypes</c> share one queue, and each gets only the tasks it has a handler for.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class RoutingTests
{
    private static Dictionary<string, string> Types(string types) => new() { ["Worker__TaskTypes"] = types };

    [Fact]
    public async Task A_mixed_fleet_runs_each_type_only_on_its_own_workers_and_dead_letters_nothing()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        string[] echoWorkers = [$"echo1-{cluster.Queue}", $"echo2-{cluster.Queue}"];
        string[] sleepWorkers = [$"sleep1-{cluster.Queue}", $"sleep2-{cluster.Queue}"];
        foreach (var worker in echoWorkers)
        {
            cluster.StartWorker(worker, concurrency: 4, settings: Types("echo"));
        }

        foreach (var worker in sleepWorkers)
        {
            cluster.StartWorker(worker, concurrency: 4, settings: Types("sleep"));
        }

        await cluster.WaitForWorkersAsync([.. echoWorkers, .. sleepWorkers]);
        var ids = await cluster.SubmitAsync(Enumerable.Range(0, 2000).Select(i => i % 2 == 0 ? cluster.Task("echo", $"task {i}") : cluster.Task("sleep", "0")));

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(120));

        Assert.All(final, t => Assert.Equal(TaskState.Completed, t.State));
        Assert.All(final, t => Assert.Equal(1, t.Attempt));
        Assert.All(final.Where(t => t.Type == "echo"), t => Assert.Contains(t.WorkerId, echoWorkers));
        Assert.All(final.Where(t => t.Type == "sleep"), t => Assert.Contains(t.WorkerId, sleepWorkers));
        Assert.Equal((1000, 1000), (final.Count(t => t.Type == "echo"), final.Count(t => t.Type == "sleep")));
        var counts = await cluster.Store.GetCountsAsync(cluster.Queue);
        Assert.Equal((2000, 2000, 0, 0, 0), (counts.Submitted, counts.Completed, counts.Failed, counts.DeadLettered, counts.DeadLetteredTotal));
    }

    [Fact]
    public async Task A_hello_with_too_many_or_empty_task_types_or_a_bad_instance_is_refused()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();

        var many = new Hello { WorkerId = "many", Concurrency = 1, Queues = { cluster.Queue } };
        many.TaskTypes.AddRange(Enumerable.Range(0, 1001).Select(i => "t" + i));
        var empty = new Hello { WorkerId = "empty", Concurrency = 1, Queues = { cluster.Queue }, TaskTypes = { "echo", "" } };
        var longInstance = new Hello { WorkerId = "long", Concurrency = 1, Queues = { cluster.Queue }, Instance = new string('i', 65) };
        var controlInstance = new Hello { WorkerId = "control", Concurrency = 1, Queues = { cluster.Queue }, Instance = "a\nb" };

        foreach (var hello in new[] { many, empty, longInstance, controlInstance })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => HelloAsync(cluster, hello));
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        }
    }

    private static async Task HelloAsync(TaskQueueCluster cluster, Hello hello)
    {
        using var call = cluster.WorkerClient().Connect(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(30));
        await call.RequestStream.WriteAsync(new WorkerMessage { Hello = hello });
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
        }
    }

    [Fact]
    public async Task A_task_of_a_type_no_connected_worker_handles_stays_ready_until_a_worker_for_it_connects()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var echoWorker = $"echo-{cluster.Queue}";
        cluster.StartWorker(echoWorker, concurrency: 2, settings: Types("echo"));
        await cluster.WaitForWorkersAsync(echoWorker);
        var waiting = TaskId.Parse(Assert.Single(await cluster.SubmitAsync([cluster.Task("sleep", "0")])));

        // Work the echo worker handles passes it by: the queue is dispatched, the sleep task is not touched.
        var echoes = await cluster.SubmitAsync(Enumerable.Range(0, 20).Select(i => cluster.Task("echo", $"e{i}")));
        Assert.All(await cluster.WaitAllFinalAsync(echoes, TimeSpan.FromSeconds(60)), t => Assert.Equal(TaskState.Completed, t.State));
        var before = await cluster.Store.GetAsync(waiting);
        Assert.Equal((TaskState.Ready, 0), (before!.State, before.Attempt));
        var counts = await cluster.Store.GetCountsAsync(cluster.Queue);
        Assert.Equal((1, 0, 0), (counts.Ready, counts.Failed, counts.DeadLetteredTotal));

        var sleepWorker = $"sleep-{cluster.Queue}";
        cluster.StartWorker(sleepWorker, concurrency: 2, settings: Types("sleep"));

        var ran = Assert.Single(await cluster.WaitAllFinalAsync([waiting.ToString()], TimeSpan.FromSeconds(60)));
        Assert.Equal((TaskState.Completed, 1, sleepWorker), (ran.State, ran.Attempt, ran.WorkerId));
    }
}
