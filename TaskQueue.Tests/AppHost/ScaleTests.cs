using System.Diagnostics;
using Xunit.Abstractions;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.AppHost;

/// <summary>
/// The seed project's claim — 50 tasks / 4 workers, 500 / 8, 1,000 / 16, completion 100% each — with the
/// workers as replicas of the AppHost's worker resource. The 4-replica row runs on the collection's shared app
/// (four replicas is the AppHost's default); the others on an app started with 16 replicas, of which the
/// 8-replica row stops eight (as the dashboard's Stop command does) and the 16-replica row runs them all.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class ScaleTests(SharedApp shared, ScaleTests.SixteenReplicas sixteen, ITestOutputHelper output)
    : IClassFixture<ScaleTests.SixteenReplicas>
{
    [Theory]
    [InlineData(50, 4)]
    [InlineData(500, 8)]
    [InlineData(1000, 16)]
    public async Task Every_task_completes_for_each_load_and_worker_count_of_the_seed_projects_claim(int taskCount, int workerCount)
    {
        var app = workerCount == SharedApp.Workers ? shared.App : sixteen.App;
        var clock = Stopwatch.StartNew();
        if (app == sixteen.App)
        {
            await app.ScaleWorkersAsync(workerCount, TimeSpan.FromMinutes(3));
        }

        await app.WaitForConnectedWorkersAsync(workerCount, TimeSpan.FromSeconds(60));
        var ready = clock.Elapsed;
        var before = (await app.CountsAsync()).Completed;

        var ids = await app.SubmitAsync(TaskQueueApp.MixedLoad(taskCount));
        var tasks = await app.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(120));
        output.WriteLine(
            $"{workerCount} replicas connected ({(app == shared.App ? "the shared app" : $"app of 16 started in {app.StartupTime.TotalSeconds:F1} s, scaled in {ready.TotalSeconds:F1} s")}); " +
            $"{taskCount} tasks final in {(clock.Elapsed - ready).TotalSeconds:F1} s, run by {tasks.Select(t => t.WorkerId).Distinct().Count()} workers");

        Assert.Equal(taskCount, tasks.Count(t => t.State == StoreTaskState.Completed));
        Assert.Equal(taskCount, (await app.CountsAsync()).Completed - before);
        Assert.Equal(workerCount, (await app.GetLiveWorkersAsync()).Count);
    }

    /// <summary>The AppHost with <c>--Workers=16</c> (and no demo client), for the rows above four.</summary>
    public sealed class SixteenReplicas : IAsyncLifetime
    {
        private TaskQueueApp? _app;

        internal TaskQueueApp App => _app ?? throw new InvalidOperationException("The app has not started.");

        public async Task InitializeAsync() => _app = await TaskQueueApp.StartAsync(16);

        public async Task DisposeAsync()
        {
            if (_app is not null)
            {
                await _app.DisposeAsync();
            }
        }
    }
}
