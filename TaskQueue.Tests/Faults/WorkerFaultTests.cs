using TaskQueue.Tests.Distributed;
using TaskQueue.Worker.Diagnostics;
using Xunit.Abstractions;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Faults;

/// <summary>Scenarios 1, 2, 3 and 10: worker processes killed, stopped, frozen, and running tasks longer than their lease.</summary>
[Collection(DistributedCollection.Name)]
public sealed class WorkerFaultTests(FaultReport report, ITestOutputHelper output)
{
    private const int Concurrency = 4;

    [Fact]
    public async Task Killed_workers_lose_no_task_and_duplicates_stay_within_kills_times_concurrency()
    {
        // A lease far longer than the run: a killed worker's tasks must come back through its broken stream
        // (the broker's short disconnect grace), not by the lease running out.
        await using var run = await FaultRun.StartAsync("1. workers SIGKILLed mid-task", report, output, new() { Lease = TimeSpan.FromSeconds(30) });
        await KillWorkersMidTaskAsync(run, Concurrency);
    }

    [Fact]
    public async Task Workers_stopped_with_sigterm_drain_and_hand_back_only_what_outlasts_the_drain()
    {
        await using var run = await FaultRun.StartAsync("2. workers SIGTERMed (graceful drain)", report, output, new() { Lease = TimeSpan.FromSeconds(10) });
        var drain = new Dictionary<string, string> { ["Worker__DrainTimeout"] = "00:00:02" };
        await run.WaitForWorkersAsync(run.StartWorker("w", Concurrency, settings: drain), run.StartWorker("w", Concurrency, settings: drain));

        // One task outlasts the drain: it is handed back unfinished, which is not an attempt, and completes elsewhere.
        var outlasting = (await run.Load.SubmitAsync([run.Cluster.Task("sleep", "7000")])).Single();
        await run.WaitUntilAsync(() => run.Executions.Of(outlasting).Count > 0, TimeSpan.FromSeconds(20), "the long task started");
        var stopped = new List<FaultWorker>();
        var load = run.Load.RunAsync(() => Sleep(run, 200, 1000), perSecond: 10, FaultSettings.Scaled(TimeSpan.FromSeconds(6)));
        await FaultRun.RepeatWhileAsync(load, TimeSpan.FromSeconds(2), () =>
        {
            // First the long task's worker; then any worker caught mid-task (only after a SIGTERM seen running, not before it started).
            var holder = run.Executions.Of(outlasting)[^1].WorkerId;
            var victim = stopped.Count == 0 ? run.LiveWorkers.FirstOrDefault(w => w.Id == holder) : run.BusyWorker(w => w.Id != holder);
            if (victim is not null)
            {
                run.TerminateWorker(victim);
                stopped.Add(victim);
                run.StartWorker("w", Concurrency, settings: drain);
            }

            return Task.CompletedTask;
        });
        var exited = await Task.WhenAll(stopped.Select(w => w.Process.WaitForExitAsync(TimeSpan.FromSeconds(30))));
        var handedBack = run.Executions.Executions.Count(e => e.Outcome == TaskOutcomes.Released);
        run.Note("workers drained / exited with code 0", $"{stopped.Count} / {stopped.Where((w, i) => exited[i] && w.Process.ExitCode == 0).Count()}");
        run.Note("runs handed back by a drain", handedBack);
        var ledger = await run.SettleAsync();

        var runs = run.Executions.Of(outlasting);
        run.Verify(ledger, () =>
        {
            Assert.True(stopped.Count >= 2, "fewer than two workers were caught mid-task");
            Assert.All(stopped, (w, i) => Assert.True(exited[i] && w.Process.ExitCode == 0, $"{w.Id} did not drain and exit cleanly"));
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(ledger.Acknowledged, ledger.Completed);
            Assert.Equal(0, ledger.DuplicateExecutions);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
            Assert.Equal(TaskOutcomes.Released, runs[0].Outcome);
            Assert.Equal(TaskOutcomes.Completed, runs[^1].Outcome);
            Assert.All(runs, r => Assert.Equal(1, r.Attempt));
        });
    }

    [Fact]
    public async Task A_frozen_worker_thawed_after_its_lease_moved_on_has_its_late_results_rejected_and_each_task_recorded_once()
    {
        await using var run = await FaultRun.StartAsync("3. zombie worker (SIGSTOP past its lease, SIGCONT)", report, output, new() { Lease = TimeSpan.FromSeconds(5) });
        var zombie = run.StartWorker("zombie", 2);
        await run.WaitForWorkersAsync(zombie);
        var frozen = await run.Load.SubmitAsync([run.Cluster.Task("sleep", "6000"), run.Cluster.Task("sleep", "6000")]);
        await run.WaitUntilAsync(() => frozen.All(id => run.Executions.Of(id).Any(e => e.WorkerId == zombie.Id)), TimeSpan.FromSeconds(20), "the zombie runs both tasks");
        var healthy = run.StartWorker("healthy", 2);
        await run.WaitForWorkersAsync(healthy);

        run.FreezeWorker(zombie);
        await run.WaitUntilAsync(
            () => frozen.All(id => run.Executions.Of(id).Any(e => e.WorkerId == healthy.Id)), TimeSpan.FromSeconds(30), "the frozen worker's tasks moved on");
        zombie.Process.Thaw();
        // Overdue, the zombie's handlers finish the moment it runs again: their results come late.
        await run.WaitUntilAsync(
            () => frozen.All(id => run.Executions.Of(id).Single(e => e.WorkerId == zombie.Id).EndedAt is not null), TimeSpan.FromSeconds(20), "the zombie's late runs end");
        var afterwards = await run.Load.SubmitAsync([.. Enumerable.Range(0, 10).Select(i => run.Cluster.Task("echo", $"after {i}"))]);
        var late = frozen.Select(id => run.Executions.Of(id).Single(e => e.WorkerId == zombie.Id)).ToList();
        run.Note("zombie's late runs: ended completed / lost", $"{late.Count(e => e.Outcome == TaskOutcomes.Completed)} / {late.Count(e => e.Outcome == TaskOutcomes.Lost)}");
        var ledger = await run.SettleAsync();
        var zombieAfterwards = (await run.WorkersAsync()).Single(w => w.Id == zombie.Id);
        run.Note("zombie quarantined (silent, so not poison)", zombieAfterwards.QuarantinedUntil is null ? "no" : "yes");

        var final = await run.SnapshotsAsync(frozen);
        run.Verify(ledger, () =>
        {
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(frozen.Count + afterwards.Count, ledger.Completed);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
            Assert.All(final, t => Assert.Equal((StoreState.Completed, healthy.Id), (t!.State, t.WorkerId)));
            // Its leases ran out while it was silent (frozen), not while it heartbeated and sat on them.
            Assert.Null(zombieAfterwards.QuarantinedUntil);
            // Each frozen task ran twice (a frozen process cannot be stopped), and was recorded once; a stall of the
            // whole machine past a renewal may also have expired the healthy worker's two.
            Assert.InRange(ledger.DuplicateExecutions, frozen.Count, frozen.Count + (run.LeaseBreakingStalls * 2));
        });
    }

    [Fact]
    public async Task Tasks_running_several_times_their_lease_under_heartbeats_run_exactly_once()
    {
        var lease = TimeSpan.FromSeconds(4);
        await using var run = await FaultRun.StartAsync("10. tasks running 3 × their lease", report, output, new() { Lease = lease });
        await run.WaitForWorkersAsync(run.StartWorker("w", Concurrency), run.StartWorker("w", Concurrency));

        var count = (int)Math.Ceiling(8 * FaultSettings.Scale);
        var ids = await run.Load.SubmitAsync([.. Enumerable.Range(0, count).Select(_ => run.Cluster.Task("sleep", ((int)(lease * 3).TotalMilliseconds).ToString()))]);
        var ledger = await run.SettleAsync();

        var history = run.Executions;
        var final = await run.SnapshotsAsync(ids);
        run.Verify(ledger, () =>
        {
            Assert.Equal(count, ids.Count);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(count, ledger.Completed);
            if (run.LeaseBreakingStalls > 0)
            {
                // The machine stopped for longer than a renewal may take: leases of these healthy workers may
                // have run out, so "exactly once" is not this run's to prove (the ledger shows the stall).
                return;
            }

            Assert.All(ids, id => Assert.Single(history.Of(id)));
            Assert.All(final, t => Assert.Equal(1, t!.Attempt));
            Assert.Equal(0, ledger.FailuresRecorded);
            Assert.Equal(0, ledger.StaleRejected);
        });
    }

    /// <summary>
    /// Scenario 1's load and faults on whatever Redis the run uses: three workers, 15 tasks/s of 0.2-0.8 s, a busy worker
    /// SIGKILLed every 2 s (while another is up and has run something) and replaced; then the ledger's checks.
    /// </summary>
    internal static async Task KillWorkersMidTaskAsync(FaultRun run, int concurrency)
    {
        await run.WaitForWorkersAsync([.. Enumerable.Range(0, 3).Select(_ => run.StartWorker("w", concurrency))]);

        var kills = 0;
        var load = run.Load.RunAsync(() => Sleep(run, 200, 800), perSecond: 15, FaultSettings.Scaled(TimeSpan.FromSeconds(8)));
        await FaultRun.RepeatWhileAsync(load, TimeSpan.FromSeconds(2), () =>
        {
            // Only while another worker is up and has run something: on a slow machine replacements take a
            // while to start, and killing every worker before any is back would measure start-up, not failover.
            var history = run.Executions;
            if (run.BusyWorker() is { } victim && run.LiveWorkers.Any(w => w != victim && history.Executions.Any(e => e.WorkerId == w.Id)))
            {
                run.KillWorker(victim);
                kills++;
                run.StartWorker("w", concurrency);
            }

            return Task.CompletedTask;
        });
        run.Note("duplicate bound: kills × concurrency", kills * concurrency);
        var ledger = await run.SettleAsync();

        run.Verify(ledger, () =>
        {
            Assert.True(kills > 0, "no worker was ever caught mid-task");
            Assert.True(ledger.Acknowledged > 0);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(ledger.Acknowledged, ledger.Completed);
            Assert.Equal(0, ledger.DeadLettered);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
            Assert.InRange(ledger.DuplicateExecutions, 0, kills * concurrency);
        });
    }

    internal static Protocol.V1.TaskSpec Sleep(FaultRun run, int minMs, int maxMs) =>
        run.Cluster.Task("sleep", Random.Shared.Next(minMs, maxMs).ToString());
}
