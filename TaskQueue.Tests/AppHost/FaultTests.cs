using System.Diagnostics;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.AppHost;

/// <summary>
/// Faults injected into the running system: a worker replica SIGKILLed, the broker resource restarted by the
/// orchestrator. The broker's fault timings are lowered through the AppHost's configuration (see
/// <see cref="SharedApp.FaultSettings"/>) so faults settle in seconds.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class FaultTests(SharedApp shared, ITestOutputHelper output)
{
    [Fact]
    public async Task Every_task_completes_when_a_worker_replica_is_killed_mid_run()
    {
        var app = shared.App;
        await app.WaitForConnectedWorkersAsync(SharedApp.Workers, TimeSpan.FromSeconds(60));
        var clock = Stopwatch.StartNew();
        var ids = await app.SubmitAsync(Enumerable.Range(0, 160).Select(_ => TaskQueueApp.Spec("sleep", "1500")));

        // Mid-run: the worker holding the most leases right now (per the ledger) is the victim.
        List<string> held = [];
        string? victim = null;
        await Eventually.TrueAsync(
            async () =>
            {
                var leased = (await app.SnapshotsAsync(ids)).Where(t => t.State == StoreTaskState.Leased && t.WorkerId is not null).ToList();
                var busiest = leased.GroupBy(t => t.WorkerId!).OrderByDescending(g => g.Count()).FirstOrDefault();
                if (busiest is null || busiest.Count() < 2)
                {
                    return false;
                }

                (victim, held) = (busiest.Key, [.. busiest.Select(t => t.Id.ToString())]);
                return true;
            },
            TimeSpan.FromSeconds(60),
            () => "no worker took leases");
        var replica = await app.KillWorkerAsync(victim!);
        output.WriteLine($"killed worker {victim} (replica {replica.Id}) holding {held.Count} leases, {clock.Elapsed.TotalSeconds:F1} s in");

        var tasks = await app.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(120));
        output.WriteLine($"160 tasks final after {clock.Elapsed.TotalSeconds:F1} s; {tasks.Count(t => t.Attempt > 1)} ran twice");
        output.WriteLine(string.Join(", ", tasks.GroupBy(t => t.WorkerId).Select(g => $"{g.Key} ran {g.Count()}")));

        Assert.All(tasks, task => Assert.Equal(StoreTaskState.Completed, task.State));
        // What the victim held when it died was run again by the others (a 1.5 s task can hardly have
        // finished in the moment between reading the ledger and the kill).
        var rerun = tasks.Where(t => held.Contains(t.Id.ToString()) && t.Attempt > 1).ToList();
        Assert.NotEmpty(rerun);
        Assert.All(rerun, task => Assert.NotEqual(victim, task.WorkerId));
        await app.WaitForConnectedWorkersAsync(SharedApp.Workers - 1, TimeSpan.FromSeconds(30));

        // The dead replica can be started again, as from the dashboard; the shared app is whole again.
        await app.StartReplicaAsync("worker", replica.Id, TimeSpan.FromSeconds(60));
        await app.WaitForConnectedWorkersAsync(SharedApp.Workers, TimeSpan.FromSeconds(90));
    }

    [Fact]
    public async Task Every_task_completes_when_the_broker_is_restarted_mid_run_and_the_workers_reconnect_by_themselves()
    {
        var app = shared.App;
        await app.WaitForConnectedWorkersAsync(SharedApp.Workers, TimeSpan.FromSeconds(60));
        var before = await app.GetLiveWorkersAsync();
        var brokerBefore = before.First().Value.GetProperty("broker").GetString();
        var completedBefore = (await app.CountsAsync()).Completed;
        var clock = Stopwatch.StartNew();
        var ids = await app.SubmitAsync(Enumerable.Range(0, 400).Select(_ => TaskQueueApp.Spec("sleep", "200")));

        // Mid-run: a tenth done, the rest queued or running.
        await Eventually.TrueAsync(
            async () => (await app.CountsAsync()).Completed - completedBefore >= 40,
            TimeSpan.FromSeconds(60),
            () => "no progress before the restart");
        await app.RestartBrokerAsync(TimeSpan.FromSeconds(90));
        output.WriteLine($"broker restarted and healthy after {clock.Elapsed.TotalSeconds:F1} s");

        var tasks = await app.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(120));
        var quarantined = (await app.GetLiveWorkersAsync()).Count(w => w.Value.GetProperty("status").GetString() == "quarantined");
        output.WriteLine($"400 tasks final after {clock.Elapsed.TotalSeconds:F1} s; {tasks.Count(t => t.Attempt > 1)} ran twice; {quarantined} workers quarantined");
        Assert.All(tasks, task => Assert.Equal(StoreTaskState.Completed, task.State));

        // Nobody restarted the workers: the same ones are back, on the new broker.
        await app.WaitForConnectedWorkersAsync(before.Count, TimeSpan.FromSeconds(30));
        var after = await app.GetLiveWorkersAsync();
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        Assert.All(after.Values, worker => Assert.NotEqual(brokerBefore, worker.GetProperty("broker").GetString()));
    }
}
