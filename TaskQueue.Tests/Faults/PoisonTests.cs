using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using TaskQueue.Worker.Diagnostics;
using Xunit.Abstractions;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Faults;

/// <summary>Scenarios 4 and 5: a worker that never finishes anything, and tasks that always fail or crash their worker.</summary>
[Collection(DistributedCollection.Name)]
public sealed class PoisonTests(FaultReport report, ITestOutputHelper output)
{
    [Fact]
    public async Task A_poison_worker_is_quarantined_and_no_healthy_task_is_dead_lettered()
    {
        await using var run = await FaultRun.StartAsync("4. poison worker (heartbeats, never completes)", report, output, new() { Lease = TimeSpan.FromSeconds(2) });
        var poisonId = $"poison-{run.Queue}";
        var (poison, _) = await RawWorker.ConnectAsync(run.Cluster.WorkerClient(), poisonId, run.Queue, 4);
        await using var poisonWorker = poison;
        // Alive to the broker, listing none of its tasks: it never renews or finishes one.
        poison.StartHeartbeats(TimeSpan.FromMilliseconds(300), () => []);

        var ids = await run.Load.SubmitAsync([.. Enumerable.Range(0, 40).Select(i => run.Cluster.Task("echo", $"t{i}", maxAttempts: 4))]);
        var healthy = run.StartWorker("healthy", 4);
        await run.WaitUntilAsync(
            async () => (await run.WorkersAsync()).Any(w => w.Id == poisonId && w.Status == WorkerStatuses.Quarantined),
            TimeSpan.FromSeconds(60),
            "the poison worker is quarantined");
        run.Note("poison worker", "quarantined");
        var ledger = await run.SettleAsync();

        var final = await run.SnapshotsAsync(ids);
        run.Verify(ledger, () =>
        {
            Assert.Equal(40, ids.Count);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(0, ledger.DeadLettered);
            Assert.All(final, t => Assert.Equal((StoreState.Completed, healthy.Id), (t!.State, t.WorkerId)));
        });
    }

    [Fact]
    public async Task Poison_tasks_are_dead_lettered_after_max_attempts_the_crash_loop_ends_there_and_other_tasks_are_unaffected()
    {
        const int concurrency = 4;
        const int maxAttempts = 3;
        await using var run = await FaultRun.StartAsync("5. poison tasks (one always throws, one crashes its worker)", report, output, new() { Lease = TimeSpan.FromSeconds(10) });
        // Three workers, so that each attempt of the crashing task finds one still alive.
        await run.WaitForWorkersAsync([.. Enumerable.Range(0, 3).Select(_ => run.StartWorker("w", concurrency))]);

        var throwing = (await run.Load.SubmitAsync([run.Cluster.Task("fail", "1000", maxAttempts)])).Single();
        var crashing = (await run.Load.SubmitAsync([run.Cluster.Task("crash", "", maxAttempts)])).Single();
        var others = await run.Load.SubmitAsync([.. Enumerable.Range(0, 60).Select(_ => WorkerFaultTests.Sleep(run, 100, 400))]);
        // The supervisor (Docker's restart policy, a Kubernetes deployment): a crashed worker is replaced.
        var crashed = new HashSet<string>();
        await run.WaitUntilAsync(
            async () =>
            {
                foreach (var worker in run.Workers.Where(w => w.Process.HasExited && crashed.Add(w.Id)).ToList())
                {
                    run.Inject("worker crashed by a task", worker);
                    run.StartWorker("w", concurrency);
                }

                return (await run.SnapshotsAsync([throwing, crashing, .. others])).All(t => t is { IsFinal: true });
            },
            TimeSpan.FromSeconds(120),
            "every task is final");
        var crashes = crashed.Count;
        var history = run.Executions;
        run.Note("worker crashes (crash loop) / bound: max attempts", $"{crashes} / {maxAttempts}");
        run.Note("duplicate executions of the other tasks / bound: crashes × (concurrency − 1)", $"{history.DuplicatesAmong(others)} / {crashes * (concurrency - 1)}");
        var ledger = await run.SettleAsync();

        var final = await run.SnapshotsAsync([throwing, crashing, .. others]);
        run.Verify(ledger, () =>
        {
            Assert.Equal((StoreState.DeadLettered, maxAttempts), (final[0]!.State, final[0]!.Attempt));
            // Every attempt ran and threw, unless the crashing task took its worker down with it first.
            Assert.Equal(maxAttempts, history.Of(throwing).Count);
            Assert.All(history.Of(throwing), e => Assert.True(e.Outcome is TaskOutcomes.Failed or null, $"attempt {e.Attempt} ended {e.Outcome}"));
            Assert.Equal((StoreState.DeadLettered, maxAttempts), (final[1]!.State, final[1]!.Attempt));
            Assert.Equal(maxAttempts, history.Of(crashing).Count);
            Assert.InRange(crashes, 1, maxAttempts);
            Assert.All(final.Skip(2), t => Assert.Equal(StoreState.Completed, t!.State));
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(2, ledger.DeadLettered);
            Assert.InRange(history.DuplicatesAmong(others), 0, crashes * (concurrency - 1));
            // The broker says so in its log (a warning, so it shows on the dashboard's structured logs).
            var brokerLog = run.Cluster.Brokers[0].Process.RecentOutput;
            Assert.Contains($"Task {throwing} (fail) on queue {run.Queue} was dead-lettered after attempt {maxAttempts}: ", brokerLog, StringComparison.Ordinal);
            Assert.Contains($"Task {crashing} (crash) on queue {run.Queue} was dead-lettered after attempt {maxAttempts}: its lease on worker ", brokerLog, StringComparison.Ordinal);
        });
    }
}
