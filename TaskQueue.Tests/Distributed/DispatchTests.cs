using Grpc.Core;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Distributed;

[Collection(DistributedCollection.Name)]
public sealed class DispatchTests
{
    [Fact]
    public async Task A_thousand_tasks_through_four_workers_all_complete_exactly_once()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var workers = Enumerable.Range(1, 4).Select(i => $"w{i}-{cluster.Queue}").ToArray();
        foreach (var worker in workers)
        {
            cluster.StartWorker(worker, concurrency: 4);
        }

        await cluster.WaitForWorkersAsync(workers);
        var ids = await cluster.SubmitAsync(Enumerable.Range(0, 1000).Select(i => cluster.Task("echo", $"task {i}")));

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(60));

        Assert.All(final, t => Assert.Equal(Broker.Storage.TaskState.Completed, t.State));
        Assert.All(final, t => Assert.Equal(1, t.Attempt));
        Assert.Equal(final.Select(t => t.Payload.ToArray()), final.Select(t => t.Result.ToArray()));
        var counts = await cluster.Store.GetCountsAsync(cluster.Queue);
        Assert.Equal((1000, 1000, 0, 0), (counts.Submitted, counts.Completed, counts.Retried, counts.StaleRejected));
        var metrics = await cluster.GetMetricsAsync();
        Assert.Equal(1000, metrics.GetProperty("queues").GetProperty(cluster.Queue).GetProperty("completed").GetInt64());
        Assert.True(final.Select(t => t.WorkerId).Distinct().Count() > 1, "the work was spread over the workers");
    }

    [Fact]
    public async Task A_worker_never_has_more_tasks_than_its_concurrency()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var worker = $"credit-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 3);
        await cluster.WaitForWorkersAsync(worker);
        var ids = await cluster.SubmitAsync(Enumerable.Range(0, 30).Select(_ => cluster.Task("sleep", "150")));

        var maxLeased = 0L;
        var done = cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(60));
        while (!done.IsCompleted)
        {
            maxLeased = Math.Max(maxLeased, (await cluster.Store.GetCountsAsync(cluster.Queue)).Leased);
            await Task.WhenAny(done, Task.Delay(20));
        }

        Assert.All(await done, t => Assert.Equal(Broker.Storage.TaskState.Completed, t.State));
        Assert.InRange(maxLeased, 1, 3);
    }

    [Fact]
    public async Task A_worker_serving_several_queues_gets_work_from_each_without_waiting_for_the_idle_recheck()
    {
        // With the safety-net re-check an hour away, only wake-ups can move the work: a queue whose pump
        // found the worker's slots reserved by another queue's claim must be woken when they come back.
        await using var cluster = await TaskQueueCluster.StartAsync(
            brokerSettings: new Dictionary<string, string> { ["TaskQueue__Broker__IdleRecheckInterval"] = "01:00:00" });
        await cluster.StartBrokerAsync();
        var queues = Enumerable.Range(1, 5).Select(i => $"{cluster.Queue}-{i}").ToArray();
        var worker = $"multi-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 2, settings: new Dictionary<string, string> { ["Worker__Queues"] = string.Join(',', queues) });
        await cluster.WaitForWorkersAsync(worker);

        var ids = new List<string>();
        for (var round = 0; round < 8; round++)
        {
            foreach (var queue in queues)
            {
                var spec = cluster.Task("sleep", "20");
                spec.Queue = queue;
                ids.AddRange(await cluster.SubmitAsync([spec]));
            }

            await Task.Delay(30);
        }

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(60));

        Assert.All(final, t => Assert.Equal(Broker.Storage.TaskState.Completed, t.State));
        Assert.Equal(queues, final.Select(t => t.Id.Queue).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Two_brokers_on_one_redis_share_the_work_and_the_figures()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var a = await cluster.StartBrokerAsync();
        var b = await cluster.StartBrokerAsync();
        string[] onA = [$"a1-{cluster.Queue}", $"a2-{cluster.Queue}"];
        string[] onB = [$"b1-{cluster.Queue}"];
        foreach (var w in onA)
        {
            cluster.StartWorker(w, 4, a);
        }

        cluster.StartWorker(onB[0], 4, b);
        await cluster.WaitForWorkersAsync([.. onA, .. onB]);

        var ids = (await cluster.SubmitAsync(Enumerable.Range(0, 300).Select(i => cluster.Task("echo", $"a{i}")), a))
            .Concat(await cluster.SubmitAsync(Enumerable.Range(0, 300).Select(i => cluster.Task("echo", $"b{i}")), b))
            .ToList();

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(60));

        Assert.All(final, t => Assert.Equal(Broker.Storage.TaskState.Completed, t.State));
        Assert.Equal(600, (await cluster.Store.GetCountsAsync(cluster.Queue)).Completed);
        var fromA = (await cluster.GetMetricsAsync(a)).GetProperty("queues").GetProperty(cluster.Queue).GetProperty("completed").GetInt64();
        var fromB = (await cluster.GetMetricsAsync(b)).GetProperty("queues").GetProperty(cluster.Queue).GetProperty("completed").GetInt64();
        Assert.Equal((600, 600), (fromA, fromB));
        Assert.Contains(final, t => onB.Contains(t.WorkerId));
        Assert.Contains(final, t => onA.Contains(t.WorkerId));
    }

    [Fact]
    public async Task Cancelling_a_running_task_cancels_its_handler()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var worker = $"cancel-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 1);
        await cluster.WaitForWorkersAsync(worker);
        var client = cluster.Client();
        var id = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("sleep", "60000") })).TaskId;
        await Eventually.TrueAsync(async () => (await client.GetAsync(new GetTaskRequest { TaskId = id })).State == Protocol.V1.TaskState.Leased,
            TimeSpan.FromSeconds(15), cluster.Diagnostics);

        var cancel = await client.CancelAsync(new CancelTaskRequest { TaskId = id });
        var final = await client.WaitAsync(new WaitTaskRequest { TaskId = id, Timeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(20)) });

        Assert.True(cancel.CancelRequested);
        Assert.Equal(Protocol.V1.TaskState.Cancelled, final.State);
        var next = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("echo", "after") })).TaskId;
        var after = await client.WaitAsync(new WaitTaskRequest { TaskId = next, Timeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(20)) });
        Assert.Equal(Protocol.V1.TaskState.Completed, after.State);
    }

    [Fact]
    public async Task A_task_over_its_execution_timeout_is_stopped_and_fails()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var worker = $"timeout-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 1);
        await cluster.WaitForWorkersAsync(worker);
        var client = cluster.Client();
        var spec = cluster.Task("sleep", "60000", maxAttempts: 1);
        spec.ExecutionTimeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMilliseconds(500));
        var id = (await client.SubmitAsync(new SubmitRequest { Task = spec })).TaskId;

        var final = await client.WaitAsync(new WaitTaskRequest { TaskId = id, Timeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(20)) });

        Assert.Equal(Protocol.V1.TaskState.DeadLettered, final.State);
        Assert.Contains("timed out", final.LastError, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_failing_task_retries_with_backoff_and_then_succeeds()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var worker = $"fail-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 2);
        await cluster.WaitForWorkersAsync(worker);
        var client = cluster.Client();
        var flaky = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("fail", "2", maxAttempts: 5) })).TaskId;
        var poison = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("fail", "100", maxAttempts: 3) })).TaskId;
        var wait = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(30));

        var flakyFinal = await client.WaitAsync(new WaitTaskRequest { TaskId = flaky, Timeout = wait });
        var poisonFinal = await client.WaitAsync(new WaitTaskRequest { TaskId = poison, Timeout = wait });

        Assert.Equal((Protocol.V1.TaskState.Completed, 3), (flakyFinal.State, flakyFinal.Attempt));
        Assert.Equal((Protocol.V1.TaskState.DeadLettered, 3), (poisonFinal.State, poisonFinal.Attempt));
        var dead = await client.ListDeadLettersAsync(new ListDeadLettersRequest { Queue = cluster.Queue });
        Assert.Equal(poison, Assert.Single(dead.Tasks).TaskId);
    }

    [Fact]
    public async Task A_retry_runs_when_its_backoff_ends_even_while_the_promoter_sleeps_out_a_long_interval()
    {
        // With the promoter's and the dispatchers' safety-net intervals an hour away, only the wake-ups can move
        // the retry: the failure report wakes the promoter, which promotes the retry when due and wakes dispatch.
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: new Dictionary<string, string>
        {
            ["TaskQueue__Broker__PromoteInterval"] = "01:00:00",
            ["TaskQueue__Broker__IdleRecheckInterval"] = "01:00:00",
        });
        await cluster.StartBrokerAsync();
        var worker = $"retry-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 2);
        await cluster.WaitForWorkersAsync(worker);

        var ids = await cluster.SubmitAsync([cluster.Task("fail", "1", maxAttempts: 3), cluster.Task("fail", "2", maxAttempts: 3)]);
        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(30));

        Assert.Equal([(Broker.Storage.TaskState.Completed, 2), (Broker.Storage.TaskState.Completed, 3)], final.Select(t => (t.State, t.Attempt)));
    }

    [Fact]
    public async Task A_task_handed_back_by_a_draining_worker_goes_to_an_idle_worker_at_once()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(
            brokerSettings: new Dictionary<string, string> { ["TaskQueue__Broker__IdleRecheckInterval"] = "01:00:00" });
        await cluster.StartBrokerAsync();
        var draining = $"draining-{cluster.Queue}";
        var drainingProcess = cluster.StartWorker(draining, concurrency: 1, settings: new Dictionary<string, string> { ["Worker__DrainTimeout"] = "00:00:01" });
        await cluster.WaitForWorkersAsync(draining);
        var id = (await cluster.SubmitAsync([cluster.Task("sleep", "8000")])).Single();
        await Eventually.TrueAsync(
            async () => (await cluster.Store.GetAsync(TaskId.Parse(id)))?.State == Broker.Storage.TaskState.Leased,
            TimeSpan.FromSeconds(20),
            () => "the first worker took the task");
        // Connected while the task runs elsewhere: its dispatcher finds nothing and would sleep for an hour.
        var idle = $"idle-{cluster.Queue}";
        cluster.StartWorker(idle, concurrency: 1);
        await cluster.WaitForWorkersAsync(idle);

        drainingProcess.Terminate();
        var final = (await cluster.WaitAllFinalAsync([id], TimeSpan.FromSeconds(30))).Single();

        Assert.Equal((Broker.Storage.TaskState.Completed, idle, 1), (final.State, final.WorkerId, final.Attempt));
    }
}
