using System.Diagnostics;
using Xunit.Abstractions;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.AppHost;

/// <summary>
/// The seed project's claim — 50 tasks / 4 workers, 500 / 8, 1,000 / 16, completion 100% each — with the
/// workers as replicas of the AppHost's worker resource. The 4-replica row runs on the collection's shared app
/// (four replicas is the AppHost's default); the others start an app of their own with that many replicas.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class ScaleTests(SharedApp shared, ITestOutputHelper output)
{
    [Theory]
    [InlineData(50, 4)]
    [InlineData(500, 8)]
    [InlineData(1000, 16)]
    public async Task Every_task_completes_for_each_load_and_worker_count_of_the_seed_projects_claim(int taskCount, int workerCount)
    {
        var own = workerCount == SharedApp.Workers ? null : await TaskQueueApp.StartAsync(workerCount, [SharedApp.ScaleQueue]);
        await using var _ = own;
        var app = own ?? shared.App;
        await app.WaitForConnectedWorkersAsync(workerCount, TimeSpan.FromSeconds(60));
        var before = (await app.CountsAsync(SharedApp.ScaleQueue)).Completed;
        var clock = Stopwatch.StartNew();

        var ids = await app.SubmitAsync(TaskQueueApp.MixedLoad(SharedApp.ScaleQueue, taskCount));
        var tasks = await app.WaitAllFinalAsync(SharedApp.ScaleQueue, ids, TimeSpan.FromSeconds(120));
        output.WriteLine(
            $"{workerCount} replicas ({(own is null ? "shared app" : $"connected {own.StartupTime.TotalSeconds:F1} s after start")}); " +
            $"{taskCount} tasks final in {clock.Elapsed.TotalSeconds:F1} s, run by {tasks.Select(t => t.WorkerId).Distinct().Count()} workers");

        Assert.Equal(taskCount, tasks.Count(t => t.State == StoreTaskState.Completed));
        Assert.Equal(taskCount, (await app.CountsAsync(SharedApp.ScaleQueue)).Completed - before);
        Assert.Equal(workerCount, (await app.GetLiveWorkersAsync()).Count);
    }
}
