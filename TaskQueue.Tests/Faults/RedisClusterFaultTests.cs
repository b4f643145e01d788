using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Faults;

/// <summary>
/// Faults on the shared test Redis Cluster (3 primaries), with the fault campaign's ledger: workers killed mid-task, and
/// the busy queue's slot moved from primary to primary (resharding) while tasks flow: the client follows MOVED and ASK,
/// the store retries TRYAGAIN, and nothing acknowledged is lost; and flow control (a pause, then a queue concurrency
/// limit) holding across two brokers.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class RedisClusterFaultTests(FaultReport report, ITestOutputHelper output)
{
    private const int Concurrency = 4;

    [Fact]
    public async Task Killed_workers_lose_no_task_on_a_Redis_Cluster()
    {
        await using var run = await FaultRun.StartAsync(
            "C1. workers SIGKILLed mid-task, Redis Cluster", report, output, new() { Lease = TimeSpan.FromSeconds(30), OnCluster = true });
        await WorkerFaultTests.KillWorkersMidTaskAsync(run, Concurrency);
    }

    [Fact]
    public async Task A_busy_queues_slot_moved_between_primaries_while_tasks_flow_loses_nothing_and_runs_nothing_twice()
    {
        await using var run = await FaultRun.StartAsync(
            "C2. the queue's slot resharded under load, Redis Cluster", report, output,
            new() { Lease = TimeSpan.FromSeconds(30), OnCluster = true, Brokers = 2 });
        var redis = (RedisCluster)run.Backend;
        await run.WaitForWorkersAsync(run.StartWorker("w", Concurrency, run.Cluster.Brokers[0]), run.StartWorker("w", Concurrency, run.Cluster.Brokers[1]));
        var slot = ClusterSlots.OfQueue(run.Queue);
        var owners = new List<int> { (await redis.Process.OwnerOfAsync(slot)).Port };

        var load = run.Load.RunAsync(() => WorkerFaultTests.Sleep(run, 20, 120), perSecond: 40, FaultSettings.Scaled(TimeSpan.FromSeconds(10)));
        await FaultRun.RepeatWhileAsync(load, TimeSpan.FromSeconds(2), async () =>
        {
            var owner = await redis.Process.OwnerOfAsync(slot);
            var target = redis.Process.Primaries.First(p => p != owner);
            var fault = run.Inject("slot moved");
            // A few keys per MIGRATE, as redis-cli --cluster reshard moves them: the queue's keys are split between the
            // two primaries for a while, so the scripts meet TRYAGAIN and the plain reads ASK.
            await redis.Process.MoveSlotAsync(slot, target, keysPerMigrate: 10);
            FaultRun.Ended(fault);
            owners.Add(target.Port);
        });
        run.Note("slot moves", owners.Count - 1);
        var ledger = await run.SettleAsync();
        var ownerAtTheEnd = (await redis.Process.OwnerOfAsync(slot)).Port;

        run.Verify(ledger, () =>
        {
            Assert.True(owners.Count >= 3, "the slot moved fewer than twice");
            Assert.Equal(owners[^1], ownerAtTheEnd);
            Assert.True(ledger.Acknowledged > 0);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(ledger.Acknowledged, ledger.Completed);
            Assert.Equal(0, ledger.DeadLettered);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
            Assert.Equal(0, ledger.DuplicateExecutions);
        });
    }

    [Fact]
    public async Task A_paused_queue_starts_nothing_and_once_resumed_its_concurrency_limit_holds_across_brokers_on_a_Redis_Cluster()
    {
        const int Limit = 3;
        await using var run = await FaultRun.StartAsync(
            "C3. a paused queue, resumed under a concurrency limit of 3, 2 brokers x 2 workers x 8 slots, Redis Cluster", report, output,
            new() { OnCluster = true, Brokers = 2 });
        var (a, b) = (run.Cluster.Brokers[0], run.Cluster.Brokers[1]);
        await run.WaitForWorkersAsync([.. run.Cluster.Brokers.SelectMany(broker => Enumerable.Range(0, 2).Select(_ => run.StartWorker("w", 8, broker)))]);
        await run.Cluster.Client(a).PauseQueueAsync(new PauseQueueRequest { Queue = run.Queue });
        await run.Cluster.Client(a).SetQueueLimitsAsync(new SetQueueLimitsRequest { Queue = run.Queue, Limits = new QueueLimits { Concurrency = Limit } });

        var ids = await run.Load.SubmitAsync([.. Enumerable.Range(0, 60).Select(_ => WorkerFaultTests.Sleep(run, 30, 120))], b);
        await Task.Delay(TimeSpan.FromSeconds(1)); // time enough to dispatch: nothing may start
        var startedWhilePaused = run.Executions.Executions.Count;
        var stats = await run.Cluster.Client(b).GetQueueStatsAsync(new GetQueueStatsRequest { Queue = run.Queue });
        var resumedAt = DateTimeOffset.UtcNow;
        await run.Cluster.Client(b).ResumeQueueAsync(new ResumeQueueRequest { Queue = run.Queue });
        var ledger = await run.SettleAsync(TimeSpan.FromSeconds(90));

        var executions = run.Executions.Executions;
        var peak = FlowLimitProcessTests.PeakConcurrency(executions);
        run.Note("peak concurrent executions", peak);
        run.Verify(ledger, () =>
        {
            Assert.Equal(0, startedWhilePaused);
            Assert.Equal((true, 60L), (stats.Paused, stats.Ready));
            Assert.Equal((0, ids.Count, 0), (ledger.Lost, ledger.Completed, ledger.DuplicateExecutions));
            Assert.All(executions, e => Assert.True(e.StartedAt >= resumedAt.AddMilliseconds(-50), $"{e.TaskId} started at {e.StartedAt:O}, before the resume at {resumedAt:O}"));
            Assert.Equal(Limit, peak); // reached, and never passed
            Assert.True(executions.Select(e => e.WorkerId).Distinct().Count() > 1, "one worker ran everything: the test proves nothing across workers");
        });
    }
}
