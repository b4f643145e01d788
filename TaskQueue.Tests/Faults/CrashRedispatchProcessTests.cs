using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Distributed;
using Xunit.Abstractions;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Faults;

/// <summary>A SIGKILLed worker's task goes back ahead of newer work, without a backoff, with real processes.</summary>
[Collection(DistributedCollection.Name)]
public sealed class CrashRedispatchProcessTests(FaultReport report, ITestOutputHelper output)
{
    [Fact]
    public async Task A_killed_workers_task_starts_again_before_tasks_submitted_after_it_and_waits_no_backoff()
    {
        // A backoff far longer than the test: a crashed worker's task that took the failure path would sit it out.
        await using var run = await FaultRun.StartAsync("crashed worker's task ahead of newer work", report, output, new()
        {
            Lease = TimeSpan.FromSeconds(30),
            BrokerSettings = new Dictionary<string, string> { ["TaskQueue__Store__BackoffInitial"] = "00:01:00", ["TaskQueue__Store__BackoffMax"] = "00:01:00" },
        });
        var victim = run.StartWorker("victim", 1);
        await run.WaitForWorkersAsync(victim);
        var crashed = (await run.Load.SubmitAsync([run.Cluster.Task("sleep", "3000")])).Single();
        await run.WaitUntilAsync(() => run.Executions.Of(crashed).Count > 0, TimeSpan.FromSeconds(20), "the victim runs the task");
        var newer = await run.Load.SubmitAsync([.. Enumerable.Range(0, 5).Select(_ => run.Cluster.Task("sleep", "50"))]);

        run.KillWorker(victim);
        // Back through the broken stream after the disconnect grace, and ready at once.
        await run.WaitUntilAsync(
            async () => (await run.Store.GetAsync(TaskId.Parse(crashed)))?.State == StoreState.Ready, TimeSpan.FromSeconds(20), "the crashed task is ready again");
        var next = run.StartWorker("next", 1);
        await run.WaitForWorkersAsync(next);
        var ledger = await run.SettleAsync();

        var rerun = run.Executions.Of(crashed).Single(e => e.WorkerId == next.Id);
        var firstOfNewer = newer.Select(id => run.Executions.Of(id).Single().StartedAt).Min();
        var final = (await run.SnapshotsAsync([crashed])).Single();
        run.Verify(ledger, () =>
        {
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(1 + newer.Count, ledger.Completed);
            Assert.True(rerun.StartedAt < firstOfNewer, $"the crashed task restarted at {rerun.StartedAt:O}, after newer work at {firstOfNewer:O}");
            Assert.Equal(2, rerun.Attempt);
            Assert.Equal((StoreState.Completed, 2), (final!.State, final.Attempt));
        });
    }
}
