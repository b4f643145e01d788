using Grpc.Core;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Distributed;

/// <summary>The flow control RPCs through a real broker: answers, bad values, the bound on overrides, stats, /metrics and the audit trail.</summary>
[Collection(DistributedCollection.Name)]
public sealed class FlowRpcTests
{
    [Fact]
    public async Task Flow_changes_are_answered_shown_in_stats_and_metrics_and_audited_and_bad_values_are_refused()
    {
        await using var redis = await RedisServer.StartAsync(); // the audit trail is one stream for every queue
        await using var cluster = await TaskQueueCluster.StartAsync(redis);
        await cluster.StartBrokerAsync();
        var client = cluster.Client();
        var queue = cluster.Queue;

        var paused = await client.PauseQueueAsync(new PauseQueueRequest { Queue = queue });
        var limited = await client.SetQueueLimitsAsync(new SetQueueLimitsRequest
        {
            Queue = queue,
            Limits = new QueueLimits { Concurrency = 4, Rate = 2.5, GroupConcurrency = 1 },
        });
        var grouped = await client.SetGroupLimitsAsync(new SetGroupLimitsRequest { Queue = queue, Group = "tenant-a", Limits = new GroupLimits { Rate = 1, Burst = 2 } });
        var stats = await client.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = queue });
        await cluster.SubmitAsync([cluster.Task("echo", "so the queue is live")]);
        var metrics = await cluster.GetMetricsAsync();
        var nan = await Assert.ThrowsAsync<RpcException>(() => client.SetQueueLimitsAsync(
            new SetQueueLimitsRequest { Queue = queue, Limits = new QueueLimits { Rate = double.NaN } }).ResponseAsync);
        var negative = await Assert.ThrowsAsync<RpcException>(() => client.SetGroupLimitsAsync(
            new SetGroupLimitsRequest { Queue = queue, Group = "g", Limits = new GroupLimits { Concurrency = -1 } }).ResponseAsync);
        var resumed = await client.ResumeQueueAsync(new ResumeQueueRequest { Queue = queue });
        var cleared = await client.ClearGroupLimitsAsync(new ClearGroupLimitsRequest { Queue = queue, Group = "tenant-a" });
        var flow = await client.GetQueueFlowAsync(new GetQueueFlowRequest { Queue = queue });
        var audit = await client.ListAuditEntriesAsync(new ListAuditEntriesRequest { Queue = queue });

        Assert.True(paused.Paused);
        Assert.Equal((4, 2.5, 0, 1), (limited.Limits.Concurrency, limited.Limits.Rate, limited.Limits.Burst, limited.Limits.GroupConcurrency));
        Assert.Equal(3.0, limited.Tokens); // a full bucket of one second's worth (2.5, rounded up)
        Assert.Equal((0, 1.0, 2), (grouped.GroupOverrides["tenant-a"].Concurrency, grouped.GroupOverrides["tenant-a"].Rate, grouped.GroupOverrides["tenant-a"].Burst));
        Assert.Equal((true, 4, 2.5), (stats.Paused, stats.Limits.Concurrency, stats.Limits.Rate));
        var shown = metrics.GetProperty("queues").GetProperty(queue);
        Assert.True(shown.GetProperty("paused").GetBoolean());
        Assert.Equal(4, shown.GetProperty("concurrency_limit").GetInt32());
        Assert.Equal(StatusCode.InvalidArgument, nan.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, negative.StatusCode);
        Assert.False(resumed.Paused);
        Assert.Empty(cleared.GroupOverrides);
        Assert.Equal((false, 4, 0L), (flow.Paused, flow.Limits.Concurrency, flow.Leased));
        Assert.Equal(
            ["queue.pause", "queue.limits", "queue.group-limits", "queue.limits", "queue.group-limits", "queue.resume", "queue.group-limits.clear"],
            audit.Entries.Select(e => e.Action).Reverse());
        Assert.Equal(["ok", "ok", "ok", "invalid-argument", "invalid-argument", "ok", "ok"], audit.Entries.Select(e => e.Outcome.Split(':')[0]).Reverse());
        Assert.Contains("concurrency 4", audit.Entries.First(e => e.Action == "queue.limits" && e.Outcome.StartsWith("ok", StringComparison.Ordinal)).Outcome, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_queue_refuses_more_group_overrides_than_its_bound()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: new Dictionary<string, string> { ["TaskQueue__Limits__MaxGroupOverrides"] = "2" });
        await cluster.StartBrokerAsync();
        var client = cluster.Client();
        foreach (var group in new[] { "a", "b" })
        {
            await client.SetGroupLimitsAsync(new SetGroupLimitsRequest { Queue = cluster.Queue, Group = group, Limits = new GroupLimits { Concurrency = 1 } });
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() => client.SetGroupLimitsAsync(
            new SetGroupLimitsRequest { Queue = cluster.Queue, Group = "c", Limits = new GroupLimits { Concurrency = 1 } }).ResponseAsync);
        var replaced = await client.SetGroupLimitsAsync(new SetGroupLimitsRequest { Queue = cluster.Queue, Group = "b", Limits = new GroupLimits { Concurrency = 3 } });

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("MaxGroupOverrides", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(3, replaced.GroupOverrides["b"].Concurrency);
        Assert.Equal(2, replaced.GroupOverrides.Count);
    }
}
