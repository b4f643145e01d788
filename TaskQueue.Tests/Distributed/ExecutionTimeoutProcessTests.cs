using System.Text;
using Google.Protobuf.WellKnownTypes;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Distributed;

/// <summary>The hard execution timeout and stuck slots across real broker and worker processes.</summary>
[Collection(DistributedCollection.Name)]
public sealed class ExecutionTimeoutProcessTests
{
    [Fact]
    public async Task A_handler_that_ignores_its_timeout_is_retried_elsewhere_its_late_result_is_stale_and_its_stuck_slot_is_not_offered()
    {
        // Heartbeats every 2 s, a 1 s grace: an attempt past its 1 s timeout loses its lease within about 4 s.
        await using var cluster = await TaskQueueCluster.StartAsync(
            lease: TimeSpan.FromSeconds(6),
            brokerSettings: new Dictionary<string, string> { ["TaskQueue__Broker__ExecutionTimeoutGrace"] = "00:00:01" });
        await cluster.StartBrokerAsync();
        var stuckWorker = $"stuck-{cluster.Queue}";
        var healthyWorker = $"healthy-{cluster.Queue}";
        var stuck = cluster.StartWorker(stuckWorker, concurrency: 2);
        await cluster.WaitForWorkersAsync(stuckWorker);

        // Both first attempts spin deaf to their cancellation: one for 6 s, one for 40 s; the retries return at once.
        var ids = await cluster.SubmitAsync([Spin(cluster, "6000,1"), Spin(cluster, "40000,1")]);
        var (soon, late) = (TaskId.Parse(ids[0]), TaskId.Parse(ids[1]));
        await Eventually.TrueAsync(
            () => BothLeasedByAsync(cluster, [soon, late], stuckWorker),
            TimeSpan.FromSeconds(20),
            () => "the spinning tasks were not leased by the first worker:\n" + cluster.Diagnostics());
        cluster.StartWorker(healthyWorker, concurrency: 2);
        await cluster.WaitForWorkersAsync(healthyWorker);

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(30));

        Assert.All(final, t =>
        {
            Assert.Equal(TaskState.Completed, t.State);
            Assert.Equal(healthyWorker, t.WorkerId);
            Assert.Equal(2, t.Attempt);
            Assert.Equal("attempt 2 did not spin", Encoding.UTF8.GetString(t.Result.Span));
            Assert.Equal("execution timed out after 1 s (the handler did not stop)", t.LastError);
        });

        // The 6 s spinner returns on the stuck worker: its late completion is rejected, the retry's result stands.
        await Eventually.TrueAsync(
            async () => (await cluster.Store.GetCountsAsync(cluster.Queue)).StaleRejected >= 1,
            TimeSpan.FromSeconds(20),
            () => "the late completion never reached the broker:\n" + cluster.Diagnostics());
        Assert.Equal("attempt 2 did not spin", Encoding.UTF8.GetString((await cluster.Store.GetAsync(soon))!.Result.Span));

        // The 40 s spinner still holds one slot: the broker shows it and offers that worker one task at a time.
        await Eventually.TrueAsync(
            async () => (await cluster.GetWorkersAsync())[stuckWorker].GetProperty("stuck_slots").GetInt32() == 1,
            TimeSpan.FromSeconds(10),
            () => "GET /workers did not show the stuck slot:\n" + cluster.Diagnostics());
        var sleeps = await cluster.SubmitAsync(Enumerable.Range(0, 20).Select(_ => cluster.Task("sleep", "200")));
        var slept = await cluster.WaitAllFinalAsync(sleeps, TimeSpan.FromSeconds(30));

        Assert.All(slept, t => Assert.Equal(TaskState.Completed, t.State));
        Assert.Contains(slept, t => t.WorkerId == stuckWorker);
        Assert.DoesNotContain("no free slot", stuck.RecentOutput, StringComparison.Ordinal);
        Assert.Equal(1, (await cluster.GetWorkersAsync())[stuckWorker].GetProperty("stuck_slots").GetInt32());
    }

    private static Protocol.V1.TaskSpec Spin(TaskQueueCluster cluster, string payload)
    {
        var spec = cluster.Task("spin", payload, maxAttempts: 3);
        spec.ExecutionTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(1));
        return spec;
    }

    private static async Task<bool> BothLeasedByAsync(TaskQueueCluster cluster, TaskId[] ids, string worker)
    {
        foreach (var id in ids)
        {
            if (await cluster.Store.GetAsync(id) is not { State: TaskState.Leased } task || task.WorkerId != worker)
            {
                return false;
            }
        }

        return true;
    }
}
