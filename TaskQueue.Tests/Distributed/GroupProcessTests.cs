using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using TaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// Groups across real brokers and workers: round-robin across groups keeps a small group from waiting behind a big
/// one's backlog, and the group limits hold across brokers. The ledger is the tasks' own lease times (started: the
/// claim, finished: the completion, both Redis time), which is exactly what the limits govern.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class GroupProcessTests
{
    [Fact]
    public async Task All_of_a_small_groups_tasks_start_before_the_200th_start_of_a_big_group_submitted_first()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var big = await cluster.SubmitAsync(Enumerable.Range(0, 10_000).Select(i => Grouped(cluster, "echo", "A", "a" + i)));
        var small = await cluster.SubmitAsync(Enumerable.Range(0, 20).Select(i => Grouped(cluster, "echo", "B", "b" + i)));
        var worker = $"fair-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 8);

        var final = await cluster.WaitAllFinalAsync([.. big, .. small], TimeSpan.FromSeconds(180));

        Assert.All(final, t => Assert.Equal(TaskState.Completed, t.State));
        var smallIds = small.ToHashSet(StringComparer.Ordinal);
        var lastSmallStart = final.Where(t => smallIds.Contains(t.Id.ToString())).Max(t => t.StartedAt!.Value);
        var bigStartedBefore = final.Count(t => !smallIds.Contains(t.Id.ToString()) && t.StartedAt!.Value <= lastSmallStart);
        Assert.True(bigStartedBefore < 200, $"{bigStartedBefore} of group A's tasks started before group B's last one");
    }

    [Fact]
    public async Task Two_brokers_keep_each_group_within_its_concurrency_and_rate_limits()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var db = cluster.Redis.Connection.GetDatabase();
        // Every group: at most 3 leased; group one: 1; group paced: 5 starts a second, bursts of 2, no concurrency limit.
        await db.HashSetAsync(RedisKeys.Flow(cluster.Queue), [new HashEntry(FlowFields.GroupConcurrency, 3)]);
        await db.HashSetAsync(RedisKeys.FlowGroups(cluster.Queue), [new HashEntry("one", "1 - -"), new HashEntry("paced", "0 5 2")]);
        var brokers = new[] { await cluster.StartBrokerAsync(), await cluster.StartBrokerAsync() };
        var workers = Enumerable.Range(0, 4).Select(i => $"lim{i}-{cluster.Queue}").ToArray();
        for (var i = 0; i < workers.Length; i++)
        {
            cluster.StartWorker(workers[i], concurrency: 8, broker: brokers[i % 2]);
        }

        await cluster.WaitForWorkersAsync(workers);
        var ids = new List<string>();
        ids.AddRange(await cluster.SubmitAsync(Enumerable.Range(0, 12).Select(_ => Grouped(cluster, "sleep", "one", "40")), brokers[0]));
        ids.AddRange(await cluster.SubmitAsync(Enumerable.Range(0, 30).Select(_ => Grouped(cluster, "sleep", "three", "40")), brokers[1]));
        ids.AddRange(await cluster.SubmitAsync(Enumerable.Range(0, 20).Select(_ => Grouped(cluster, "sleep", "paced", "10")), brokers[0]));
        // Ungrouped work keeps every slot busy meanwhile: the limits bind groups, not the queue.
        ids.AddRange(await cluster.SubmitAsync(Enumerable.Range(0, 60).Select(_ => cluster.Task("sleep", "40")), brokers[1]));

        var final = await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(120));

        Assert.All(final, t => Assert.Equal(TaskState.Completed, t.State));
        Assert.All(final, t => Assert.Equal(1, t.Attempt));
        var byGroup = final.GroupBy(t => t.Group ?? "").ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        Assert.Equal(1, Overlap.PeakLeased(byGroup["one"]));
        Assert.InRange(Overlap.PeakLeased(byGroup["three"]), 2, 3); // reached, never passed
        var starts = byGroup["paced"].Select(t => t.StartedAt!.Value).Order().ToList();
        var worstWindow = starts.Max(s => starts.Count(o => o >= s && o < s + TimeSpan.FromSeconds(1)));
        Assert.True(worstWindow <= 5 + 2, $"{worstWindow} starts of group paced in one second");
        Assert.True(Overlap.PeakLeased(byGroup[""]) > 3, "the ungrouped tasks were limited too");
    }

    private static Protocol.V1.TaskSpec Grouped(TaskQueueCluster cluster, string type, string group, string payload)
    {
        var spec = cluster.Task(type, payload);
        spec.Group = group;
        return spec;
    }
}
