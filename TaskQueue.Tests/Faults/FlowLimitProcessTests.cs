using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Faults;

/// <summary>
/// Flow control with real brokers and workers: a pause holds for every broker and across a restart, and the queue's
/// concurrency and rate limits hold across 2 brokers × 4 workers × 8 slots, judged by the workers' execution logs.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class FlowLimitProcessTests(FaultReport report, ITestOutputHelper output)
{
    [Fact]
    public async Task A_paused_queue_acknowledges_submits_starts_nothing_even_after_a_broker_restart_and_drains_on_resume()
    {
        await using var run = await FaultRun.StartAsync("paused queue across a broker restart", report, output, new() { Brokers = 2 });
        var (a, b) = (run.Cluster.Brokers[0], run.Cluster.Brokers[1]);
        var workers = new[] { run.StartWorker("a", 4, a), run.StartWorker("b", 4, b) };
        await run.WaitForWorkersAsync(workers);
        await run.Cluster.Client(a).PauseQueueAsync(new PauseQueueRequest { Queue = run.Queue });

        var submitted = await run.Load.SubmitAsync([.. Enumerable.Range(0, 40).Select(i => run.Cluster.Task("sleep", "20"))], b);
        Assert.Equal(40, submitted.Count);
        await Task.Delay(TimeSpan.FromSeconds(1)); // time enough to dispatch: nothing may start

        a.Process.Kill();
        Assert.True(await a.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var restarted = await run.Cluster.StartBrokerAsync(restartOf: a);
        await run.WaitUntilAsync(
            async () => (await run.WorkersAsync(restarted)).Count(w => w.Status is WorkerStatuses.Idle or WorkerStatuses.Busy) == workers.Length,
            TimeSpan.FromSeconds(60),
            "both workers are connected again");
        var more = await run.Load.SubmitAsync([.. Enumerable.Range(0, 10).Select(i => run.Cluster.Task("sleep", "20"))], restarted);
        await Task.Delay(TimeSpan.FromSeconds(1));

        var startedWhilePaused = run.Executions.Executions.Count;
        var stats = await run.Cluster.Client(restarted).GetQueueStatsAsync(new GetQueueStatsRequest { Queue = run.Queue });
        var why = await run.Cluster.Client(b).ExplainAsync(new ExplainTaskRequest { TaskId = submitted[0] });
        var resumedAt = DateTimeOffset.UtcNow;
        var resumed = await run.Cluster.Client(restarted).ResumeQueueAsync(new ResumeQueueRequest { Queue = run.Queue });
        var ledger = await run.SettleAsync(TimeSpan.FromSeconds(60));

        run.Verify(ledger, () =>
        {
            Assert.Equal(0, startedWhilePaused);
            Assert.Equal((true, 50L), (stats.Paused, stats.Ready));
            Assert.Equal(ExplainReason.Paused, why.Reason);
            Assert.False(resumed.Paused);
            Assert.Equal((0, 50), (ledger.Lost, ledger.Completed));
            Assert.All(run.Executions.Executions, e => Assert.True(e.StartedAt >= resumedAt.AddMilliseconds(-50), $"{e.TaskId} started at {e.StartedAt:O}, before the resume at {resumedAt:O}"));
            Assert.Equal(10, more.Count);
        });
    }

    [Fact]
    public async Task A_queue_wide_concurrency_limit_holds_across_brokers_and_workers()
    {
        const int Limit = 3;
        await using var run = await StartLedgerRunAsync("queue concurrency limit 3, 2 brokers x 4 workers x 8 slots");
        await run.Cluster.Client().SetQueueLimitsAsync(new SetQueueLimitsRequest { Queue = run.Queue, Limits = new QueueLimits { Concurrency = Limit } });

        var ids = await run.Load.SubmitAsync([.. Enumerable.Range(0, 90).Select(_ => WorkerFaultTests.Sleep(run, 30, 120))]);
        var ledger = await run.SettleAsync(TimeSpan.FromSeconds(90));

        var executions = run.Executions.Executions;
        var peak = PeakConcurrency(executions);
        run.Note("peak concurrent executions", peak);
        run.Verify(ledger, () =>
        {
            Assert.Equal((0, ids.Count), (ledger.Lost, ledger.Completed));
            Assert.InRange(peak, 1, Limit);
            Assert.Equal(Limit, peak); // the limit is reached, not merely respected by a slow run
            Assert.True(executions.Select(e => e.WorkerId).Distinct().Count() > 1, "one worker ran everything: the test proves nothing across workers");
        });
    }

    [Fact]
    public async Task A_queue_rate_limit_starts_no_more_than_rate_plus_burst_in_any_second()
    {
        const double Rate = 5;
        const int Burst = 3;
        await using var run = await StartLedgerRunAsync("queue rate 5/s burst 3, 2 brokers x 4 workers x 8 slots");
        await run.Cluster.Client().SetQueueLimitsAsync(
            new SetQueueLimitsRequest { Queue = run.Queue, Limits = new QueueLimits { Rate = Rate, Burst = Burst } });

        var ids = await run.Load.SubmitAsync([.. Enumerable.Range(0, 30).Select(i => run.Cluster.Task("echo", "rate " + i))]);
        var ledger = await run.SettleAsync(TimeSpan.FromSeconds(60));

        // The limit governs the moments of the leases: Redis's own clock (the task's start), exact. The workers' logs
        // show the handlers started each task once, a dispatch later.
        var leasedAt = (await run.SnapshotsAsync(ids)).Select(t => t!.StartedAt!.Value).Order().ToList();
        var busiest = leasedAt.Max(start => leasedAt.Count(s => s >= start && s < start.AddSeconds(1)));
        var handlerBusiest = Busiest(run.Executions.Executions.Select(e => e.StartedAt).Order().ToList());
        run.Note("most leases in one second", busiest);
        run.Note("most handler starts in one second", handlerBusiest);
        run.Verify(ledger, () =>
        {
            Assert.Equal((0, ids.Count, 0), (ledger.Lost, ledger.Completed, ledger.DuplicateExecutions));
            Assert.InRange(busiest, 1, (int)Rate + Burst);
            // 30 tasks at 5/s after a burst of 3 take more than 5 s: the rate bound, not the workers' slots, paced them.
            Assert.True(leasedAt[^1] - leasedAt[0] >= TimeSpan.FromSeconds(((ids.Count - Burst) / Rate) - 1), $"30 leases in {(leasedAt[^1] - leasedAt[0]).TotalSeconds:0.0} s");
        });
    }

    private static async Task<FaultRun> StartLedgerRunAsync(string scenario, FaultReport report, ITestOutputHelper output)
    {
        var run = await FaultRun.StartAsync(scenario, report, output, new() { Brokers = 2 });
        var workers = run.Cluster.Brokers.SelectMany(broker => Enumerable.Range(0, 2).Select(_ => run.StartWorker("w", 8, broker))).ToArray();
        await run.WaitForWorkersAsync(workers);
        return run;
    }

    private Task<FaultRun> StartLedgerRunAsync(string scenario) => StartLedgerRunAsync(scenario, report, output);

    /// <summary>The most executions running at one moment (one still running counts to the end).</summary>
    internal static int PeakConcurrency(IEnumerable<Execution> executions) =>
        Overlap.Peak(executions.Select(e => (e.StartedAt, e.EndedAt ?? DateTimeOffset.MaxValue)));

    private static int Busiest(List<DateTimeOffset> starts) =>
        starts.Count == 0 ? 0 : starts.Max(start => starts.Count(s => s >= start && s < start.AddSeconds(1)));
}
