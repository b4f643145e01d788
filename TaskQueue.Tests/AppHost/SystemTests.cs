using System.Diagnostics;
using Aspire.Hosting.ApplicationModel;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.AppHost;

/// <summary>The system as the AppHost defines it: one broker, four worker replicas, local Redis, the demo client.</summary>
[Collection(AppHostCollection.Name)]
public sealed class SystemTests(SharedApp shared, ITestOutputHelper output)
{
    [Fact]
    public async Task A_thousand_mixed_tasks_all_complete_through_four_worker_replicas_and_the_broker_metrics_agree()
    {
        var app = shared.App;
        await app.WaitForConnectedWorkersAsync(SharedApp.Workers, TimeSpan.FromSeconds(60));
        var before = await app.CountsAsync();
        var clock = Stopwatch.StartNew();

        var ids = await app.SubmitAsync(TaskQueueApp.MixedLoad(1000));
        var tasks = await app.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(120));
        output.WriteLine($"app started in {app.StartupTime.TotalSeconds:F1} s; 1,000 tasks final in {clock.Elapsed.TotalSeconds:F1} s");

        Assert.Equal(1000, ids.Distinct().Count());
        Assert.All(tasks, task => Assert.Equal(StoreTaskState.Completed, task.State));
        Assert.All(tasks.Where(t => t.Type == "fail"), task => Assert.Equal(2, task.Attempt));

        // Every one of the four replicas did work, and no one else did.
        var workers = await app.GetLiveWorkersAsync();
        Assert.Equal(SharedApp.Workers, workers.Count);
        Assert.Equal(workers.Keys.Order(), tasks.Select(t => t.WorkerId!).Distinct().Order());

        // The ledger counted exactly these 1,000, and GET /metrics on the broker agrees with the ledger.
        var ledger = await app.CountsAsync();
        Assert.Equal((1000, 1000, 0), (ledger.Submitted - before.Submitted, ledger.Completed - before.Completed, ledger.DeadLettered - before.DeadLettered));
        Assert.Equal(tasks.Sum(t => t.Attempt - 1), ledger.Retried - before.Retried);
        var metrics = await app.GetMetricsAsync();
        var queue = metrics.GetProperty("queues").GetProperty(TaskQueueApp.Queue);
        Assert.Equal(ledger.Submitted, queue.GetProperty("submitted").GetInt64());
        Assert.Equal(ledger.Completed, queue.GetProperty("completed").GetInt64());
        Assert.Equal(ledger.DeadLettered, queue.GetProperty("dead_letter").GetInt64());
        Assert.Equal(ledger.Retried, queue.GetProperty("retries").GetInt64());
        Assert.Equal(0, queue.GetProperty("ready").GetInt64() + queue.GetProperty("scheduled").GetInt64() + queue.GetProperty("in_progress").GetInt64());
        Assert.Equal(SharedApp.Workers, metrics.GetProperty("connected_workers").GetInt32());
    }

    [Fact]
    public async Task The_demo_client_submits_its_load_on_start_and_reports_every_task_at_its_expected_outcome()
    {
        var app = shared.App;
        var client = shared.DemoClient!;
        var log = await app.LogsAsync(client.ResourceId);
        output.WriteLine(string.Join('\n', log.TakeLast(3)));

        Assert.Equal(0, client.Snapshot.ExitCode);
        Assert.Contains(log, line => line.Contains("every task reached the outcome it was built for", StringComparison.Ordinal));
        var demo = shared.AfterDemo!;
        Assert.Equal((1000, 999, 1), (demo.Submitted, demo.Completed, demo.DeadLettered));
    }
    [Fact]
    public async Task The_dashboard_commands_replay_every_dead_letter_and_then_purge_them()
    {
        var app = shared.App;
        await app.WaitForConnectedWorkersAsync(SharedApp.Workers, TimeSpan.FromSeconds(60));
        var poison = TaskQueueApp.Spec("fail", "1000");
        poison.MaxAttempts = 1;
        var ids = await app.SubmitAsync([poison]);
        Assert.Equal(StoreTaskState.DeadLettered, Assert.Single(await app.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(60))).State);
        var before = await app.CountsAsync();
        Assert.True(before.DeadLettered >= 1);

        // Replay: every dead letter runs again (and, being poison, fails and dead-letters again).
        var replay = await app.ExecuteCommandAsync(TaskQueueApp.TaskQueueName, TaskQueueResource.ReplayDeadLettersCommandName, TimeSpan.FromSeconds(60));
        output.WriteLine($"replay: {replay.Message}");
        Assert.True(replay.Success, replay.Message);
        Assert.Contains($"Replayed {before.DeadLettered} dead letters", replay.Message, StringComparison.Ordinal);
        await Eventually.TrueAsync(
            async () => (await app.CountsAsync()) is { Ready: 0, Leased: 0, Scheduled: 0 } after && after.DeadLettered == before.DeadLettered && after.Failed > before.Failed,
            TimeSpan.FromSeconds(60),
            () => $"after the replay: {TaskQueueApp.Describe(app.CountsAsync().GetAwaiter().GetResult())}");

        // Purge: the dead-letter queue is empty.
        var purge = await app.ExecuteCommandAsync(TaskQueueApp.TaskQueueName, TaskQueueResource.PurgeDeadLettersCommandName, TimeSpan.FromSeconds(60));
        output.WriteLine($"purge: {purge.Message}");
        Assert.True(purge.Success, purge.Message);
        Assert.Equal(0, (await app.CountsAsync()).DeadLettered);
    }
}
