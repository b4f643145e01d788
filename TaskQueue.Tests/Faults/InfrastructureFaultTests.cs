using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Tests.Distributed;
using Xunit.Abstractions;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Faults;

/// <summary>Scenarios 6, 7, 7b and 8: a broker killed under load, Redis killed and restarted, Redis unresponsive for seconds.</summary>
[Collection(DistributedCollection.Name)]
public sealed class InfrastructureFaultTests(FaultReport report, ITestOutputHelper output)
{
    private const int Concurrency = 4;

    [Fact]
    public async Task A_broker_killed_under_load_loses_nothing_while_the_other_carries_on_and_the_restarted_one_rejoins()
    {
        // Long enough for the killed broker's workers to re-attach their running tasks once it is back.
        await using var run = await FaultRun.StartAsync("6. broker SIGKILLed under load (two brokers)", report, output, new() { Lease = TimeSpan.FromSeconds(20), Brokers = 2 });
        var (a, b) = (run.Cluster.Brokers[0], run.Cluster.Brokers[1]);
        FaultWorker[] onA = [run.StartWorker("a", Concurrency, a), run.StartWorker("a", Concurrency, a)];
        FaultWorker[] onB = [run.StartWorker("b", Concurrency, b), run.StartWorker("b", Concurrency, b)];
        await run.WaitForWorkersAsync([.. onA, .. onB]);

        var load = run.Load.RunAsync(() => WorkerFaultTests.Sleep(run, 100, 500), perSecond: 20, FaultSettings.Scaled(TimeSpan.FromSeconds(10)));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var fault = run.Inject("broker SIGKILL");
        a.Process.Kill();
        Assert.True(await a.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(TimeSpan.FromSeconds(2));
        var restarted = await run.Cluster.StartBrokerAsync(restartOf: a);
        FaultRun.Ended(fault);
        var ranWhileDown = run.Executions.Executions.Count(e => e.StartedAt > fault.At && e.StartedAt < fault.EndedAt && onB.Any(w => w.Id == e.WorkerId));
        await load;

        // Rejoined: the killed broker's workers are connected through its successor again, and it takes submits.
        await run.WaitUntilAsync(
            async () => (await run.WorkersAsync(restarted)).Count(w => w.Broker == FaultRun.BrokerId(restarted) && w.Status is WorkerStatuses.Idle or WorkerStatuses.Busy) == onA.Length,
            TimeSpan.FromSeconds(60),
            "the restarted broker's workers are back");
        var throughRestarted = await run.Load.SubmitAsync([.. Enumerable.Range(0, 10).Select(i => run.Cluster.Task("echo", $"after {i}"))], restarted);
        var quarantined = (await run.WorkersAsync(restarted)).Count(w => w.Status == WorkerStatuses.Quarantined);
        run.Note("tasks started on the other broker's workers while it was down", ranWhileDown);
        run.Note("workers quarantined", quarantined);
        var ledger = await run.SettleAsync();

        run.Verify(ledger, () =>
        {
            Assert.True(ranWhileDown > 0, "no work went on while the broker was down");
            Assert.Equal(10, throughRestarted.Count);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(ledger.Acknowledged, ledger.Completed);
            Assert.Equal(0, ledger.DeadLettered);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
            // The killed broker's workers kept running their tasks and re-attached them: nothing ran twice.
            Assert.Equal(0, ledger.DuplicateExecutions);
            Assert.Equal(0, quarantined);
        });
    }

    [Fact]
    public async Task Redis_killed_and_restarted_with_appendfsync_always_keeps_every_acknowledged_submit_and_completion()
    {
        // SIGKILL ends the process, not the machine: what Redis wrote is still in the page cache, so this shows that
        // every acknowledged write reached the AOF before its reply, not that the AOF survives a power loss (fsync).
        await using var run = await FaultRun.StartAsync(
            "7. Redis SIGKILLed and restarted (AOF, appendfsync always)",
            report,
            output,
            new() { Lease = TimeSpan.FromSeconds(20), OwnRedis = ["--appendonly", "yes", "--appendfsync", "always"] });
        await run.WaitForWorkersAsync(run.StartWorker("w", Concurrency), run.StartWorker("w", Concurrency));

        var load = run.Load.RunAsync(() => WorkerFaultTests.Sleep(run, 100, 400), perSecond: 20, FaultSettings.Scaled(TimeSpan.FromSeconds(6)));
        await Task.Delay(TimeSpan.FromSeconds(4));
        // What Redis has confirmed so far: the submits it acknowledged, and the completions it recorded.
        var seen = run.Load.AcknowledgedIds.ToList();
        var completedBefore = seen.Zip(await run.SnapshotsAsync(seen)).Where(p => p.Second?.State == StoreState.Completed).Select(p => p.First).ToList();
        IReadOnlyCollection<string> acknowledgedBefore = [];
        IReadOnlyList<string> submittedWhileDown = [];
        await run.KillAndRestartRedisAsync(TimeSpan.FromSeconds(1), whileDown: async () =>
        {
            acknowledgedBefore = run.Load.AcknowledgedIds;
            // Answered only once the broker's Redis client gives up on the dead server.
            submittedWhileDown = await run.Load.SubmitAsync([run.Cluster.Task("echo", "while down")]);
        });
        var afterRestart = await run.SnapshotsAsync(acknowledgedBefore);
        var completedAfter = await run.SnapshotsAsync(completedBefore);
        var missing = afterRestart.Count(t => t is null);
        var undone = completedAfter.Count(t => t?.State != StoreState.Completed);
        run.Note("acknowledged before the kill / missing after the restart", $"{acknowledgedBefore.Count} / {missing}");
        run.Note("completions recorded before the kill / undone after the restart", $"{completedBefore.Count} / {undone}");
        await load;
        await run.SubmitUntilAcknowledgedAsync(TimeSpan.FromSeconds(30));
        var ledger = await run.SettleAsync(TimeSpan.FromSeconds(90));

        run.Verify(ledger, () =>
        {
            Assert.Empty(submittedWhileDown);
            Assert.Equal(["UNAVAILABLE"], ledger.Refused.Keys);
            Assert.NotEmpty(acknowledgedBefore);
            Assert.NotEmpty(completedBefore);
            Assert.Equal(0, missing);
            Assert.Equal(0, undone);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(0, ledger.DeadLettered);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
        });
    }

    [Fact]
    public async Task Reports_in_flight_when_Redis_is_killed_are_settled_after_its_restart_and_no_task_runs_again_after_its_lease()
    {
        // Short tasks on many slots, and Redis frozen before it is killed: every report sent while it is frozen is in flight
        // (written, unanswered) when it dies, so each fails with the connection. Each is tried again until its lease would
        // run out; before, it was dropped and its task ran again after a full lease.
        await using var run = await FaultRun.StartAsync(
            "7b. Redis frozen, then SIGKILLed and restarted, under short-task load (reports tried again)",
            report,
            output,
            new() { Lease = TimeSpan.FromSeconds(20), OwnRedis = ["--appendonly", "yes", "--appendfsync", "always"] });
        await run.WaitForWorkersAsync(run.StartWorker("w", 8), run.StartWorker("w", 8));
        // Counted as printed: after the restart the broker prints more than its recent output keeps.
        var broker = run.Cluster.Brokers[0].Process;
        const string Retried = "trying again in", GivenUp = "could not be settled before their leases ran out";
        broker.CountLines(Retried);
        broker.CountLines(GivenUp);

        var load = run.Load.RunAsync(() => WorkerFaultTests.Sleep(run, 20, 80), perSecond: 100, FaultSettings.Scaled(TimeSpan.FromSeconds(8)));
        await Task.Delay(TimeSpan.FromSeconds(3));
        run.Redis!.Freeze();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await run.KillAndRestartRedisAsync(TimeSpan.FromSeconds(0.5));
        await load;
        await run.SubmitUntilAcknowledgedAsync(TimeSpan.FromSeconds(30));
        var ledger = await run.SettleAsync(TimeSpan.FromSeconds(90));
        var retried = broker.LinesCounted(Retried);
        var givenUp = broker.LinesCounted(GivenUp);
        run.Note("report batches tried again / given up", $"{retried} / {givenUp}");

        run.Verify(ledger, () =>
        {
            Assert.True(retried > 0, "no report met the outage: the test did not test the retry");
            Assert.Equal(0, givenUp);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(0, ledger.DeadLettered);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
            // A completion the broker could not settle no longer makes its task run again after its lease.
            Assert.Equal(0, ledger.DuplicateExecutions);
        });
    }

    [Fact]
    public async Task While_redis_is_frozen_submits_fail_with_unavailable_no_lease_expires_and_the_system_resumes_by_itself()
    {
        var outage = TimeSpan.FromSeconds(10);
        // Leases longer than the outage: a lease may only expire when its worker really stopped renewing it.
        await using var run = await FaultRun.StartAsync("8. Redis unresponsive for 10 s (SIGSTOP, SIGCONT)", report, output, new() { Lease = TimeSpan.FromSeconds(30), OwnRedis = [] });
        await run.WaitForWorkersAsync(run.StartWorker("w", Concurrency), run.StartWorker("w", Concurrency));
        // Tasks that run right across the outage and finish seconds after it (12 s ended them at about the thaw: a
        // completion that reaches the frozen Redis is not settled yet, and its task ran again after its lease).
        var spanning = await run.Load.SubmitAsync([.. Enumerable.Range(0, 4).Select(_ => run.Cluster.Task("sleep", "16000"))]);
        await run.WaitUntilAsync(() => spanning.All(id => run.Executions.Of(id).Count > 0), TimeSpan.FromSeconds(30), "the long tasks started");

        var load = run.Load.RunAsync(() => WorkerFaultTests.Sleep(run, 100, 300), perSecond: 10, outage + FaultSettings.Scaled(TimeSpan.FromSeconds(4)));
        await Task.Delay(TimeSpan.FromSeconds(2));
        await run.PauseRedisAsync(outage);
        await load;
        await run.SubmitUntilAcknowledgedAsync(TimeSpan.FromSeconds(30));
        var ledger = await run.SettleAsync(TimeSpan.FromSeconds(90));

        run.Verify(ledger, () =>
        {
            Assert.NotEmpty(ledger.Refused);
            Assert.Equal(["UNAVAILABLE"], ledger.Refused.Keys);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(0, ledger.DeadLettered);
            Assert.Equal(0, ledger.FailuresRecorded);
            Assert.Equal(0, ledger.DuplicateExecutions);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
        });
    }
}
