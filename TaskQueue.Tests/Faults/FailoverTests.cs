using System.Diagnostics;
using System.Globalization;
using TaskQueue.Tests.Distributed;
using Xunit.Abstractions;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Faults;

/// <summary>
/// Scenario 11: the Redis primary SIGKILLed under load behind Sentinel (a primary, a replica, three sentinels); the
/// sentinels promote the replica, the broker follows through the sentinels, the killed node comes back as the new
/// primary's replica. With TaskQueue:Store:AckReplicas=1 no acknowledged submit or completion is lost; with 0 the
/// ledger says how many were (replication is asynchronous: it may be more than 0).
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class FailoverTests(FaultReport report, ITestOutputHelper output)
{
    private const int Concurrency = 4;

    [Fact]
    public async Task With_AckReplicas_1_a_primary_killed_under_load_loses_no_acknowledged_submit_or_completion()
    {
        var (run, outcome) = await FailoverAsync("11a. Redis primary SIGKILLed under Sentinel, AckReplicas=1", ackReplicas: 1);
        await using (run)
        {
            run.Verify(outcome.Ledger, () =>
            {
                Assert.NotEmpty(outcome.AcknowledgedBefore);
                Assert.NotEmpty(outcome.CompletedBefore);
                Assert.Equal(0, outcome.MissingAfter);
                Assert.Equal(0, outcome.UndoneAfter);
                Assert.Equal(0, outcome.Ledger.Lost);
                Assert.Equal(0, outcome.Ledger.DeadLettered);
                Assert.Equal(0, outcome.Ledger.DuplicateCompletionsRecorded);
                // No false OK: every refusal is UNAVAILABLE (the primary away, or too few replicas acknowledged).
                Assert.All(outcome.Ledger.Refused.Keys, code => Assert.Equal("UNAVAILABLE", code));
            });
        }
    }

    [Fact]
    public async Task With_AckReplicas_0_a_primary_killed_under_load_is_ridden_out_and_the_ledger_counts_what_the_failover_lost()
    {
        var (run, outcome) = await FailoverAsync("11b. Redis primary SIGKILLed under Sentinel, AckReplicas=0", ackReplicas: 0);
        await using (run)
        {
            // What a failover loses without AckReplicas is measured, not promised: the ledger prints it (README, "Replicas and failover").
            run.Verify(outcome.Ledger, () =>
            {
                Assert.NotEmpty(outcome.AcknowledgedBefore);
                Assert.All(outcome.Ledger.Refused.Keys, code => Assert.Equal("UNAVAILABLE", code));
                Assert.True(outcome.AcknowledgedAfter > 0, "nothing was acknowledged after the failover");
                Assert.Equal(0, outcome.Ledger.DuplicateCompletionsRecorded);
            });
        }
    }

    /// <summary>What a failover run saw, beyond its ledger.</summary>
    private sealed record FailoverOutcome(
        FaultLedger Ledger, IReadOnlyCollection<string> AcknowledgedBefore, IReadOnlyList<string> CompletedBefore, int MissingAfter, int UndoneAfter, int AcknowledgedAfter);

    private async Task<(FaultRun Run, FailoverOutcome Outcome)> FailoverAsync(string scenario, int ackReplicas)
    {
        var run = await FaultRun.StartAsync(scenario, report, output, new()
        {
            Lease = TimeSpan.FromSeconds(10),
            Sentinel = true,
            BrokerSettings = new Dictionary<string, string>
            {
                ["TaskQueue__Store__AckReplicas"] = ackReplicas.ToString(CultureInfo.InvariantCulture),
            },
        });
        try
        {
            var topology = run.Redis!.Sentinel!;
            await run.WaitForWorkersAsync(run.StartWorker("w", Concurrency), run.StartWorker("w", Concurrency));

            var load = run.Load.RunAsync(() => WorkerFaultTests.Sleep(run, 20, 100), perSecond: 100, FaultSettings.Scaled(TimeSpan.FromSeconds(10)));
            await Task.Delay(TimeSpan.FromSeconds(3));
            // Completions the primary holds now, then more than AckTimeout for the broker to have answered them (OK only once a replica held them).
            var seen = run.Load.AcknowledgedIds.ToList();
            var completedBefore = seen.Zip(await run.SnapshotsAsync(seen)).Where(p => p.Second?.State == StoreState.Completed).Select(p => p.First).ToList();
            await Task.Delay(TimeSpan.FromSeconds(1));

            var fault = run.Inject("Redis primary SIGKILL");
            var acknowledgedBefore = run.Load.AcknowledgedIds;
            var former = await topology.KillPrimaryAsync();
            var failover = Stopwatch.StartNew();
            var promoted = await topology.WaitForFailoverAsync(former, TimeSpan.FromSeconds(30));
            run.Note("primary killed → replica promoted (Sentinel, down-after 1 s)", $"{failover.Elapsed.TotalMilliseconds:N0} ms");
            // The killed node is restarted, as a supervisor would, and joins as the new primary's replica.
            await topology.RestartAsReplicaAsync(former, promoted, TimeSpan.FromSeconds(30));
            run.Note("… and the killed node back as its replica", $"{failover.Elapsed.TotalMilliseconds:N0} ms");
            FaultRun.Ended(fault);

            var afterFailover = await run.SnapshotsAsync(acknowledgedBefore);
            var completedAfter = await run.SnapshotsAsync(completedBefore);
            var missing = afterFailover.Count(t => t is null);
            var undone = completedAfter.Count(t => t?.State != StoreState.Completed);
            run.Note("acknowledged before the kill / missing after the failover", $"{acknowledgedBefore.Count} / {missing}");
            run.Note("completions on the primary 1 s before the kill / undone after the failover", $"{completedBefore.Count} / {undone}");
            await load;
            var acknowledgedAfter = run.Load.AcknowledgedIds.Count - acknowledgedBefore.Count;
            await run.SubmitUntilAcknowledgedAsync(TimeSpan.FromSeconds(30));
            var ledger = await run.SettleAsync(TimeSpan.FromSeconds(60));
            return (run, new FailoverOutcome(ledger, acknowledgedBefore, completedBefore, missing, undone, acknowledgedAfter));
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
    }
}
