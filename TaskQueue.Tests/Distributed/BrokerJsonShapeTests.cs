using System.Text.Json;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// The JSON field names of GET /metrics and GET /workers, pinned: the seed's fields keep their names and kinds, and any
/// field added or dropped must change this test (scripts and dashboards read them).
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class BrokerJsonShapeTests
{
    private static readonly string[] s_seedMetrics =
        ["uptime_seconds", "pending_tasks", "in_progress_tasks", "completed_tasks", "connected_workers", "idle_workers", "total_retries"];

    private static readonly string[] s_metrics =
    [
        .. s_seedMetrics, "dead_letter_tasks", "busy_workers", "quarantined_workers", "tasks_submitted", "tasks_completed",
        "tasks_failed", "tasks_expired", "tasks_cancelled", "stale_reports_rejected", "scheduled_tasks", "ready_tasks", "slots",
        "busy_slots", "queues",
    ];

    private static readonly string[] s_queueMetrics =
        ["ready", "scheduled", "in_progress", "dead_letter", "submitted", "completed", "retries", "paused", "concurrency_limit", "rate_limit"];

    private static readonly string[] s_seedWorker = ["status", "tasks_completed", "last_heartbeat"];

    private static readonly string[] s_worker = [.. s_seedWorker, "slots", "busy_slots", "stuck_slots", "queues", "broker", "quarantined_until", "task_types", "running_tasks"];

    [Fact]
    public async Task Metrics_and_workers_answer_exactly_their_pinned_field_names()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var workerId = $"shape-{cluster.Queue}";
        var (worker, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(), workerId, cluster.Queue, concurrency: 2);
        await using var stream = worker;
        await cluster.SubmitAsync([cluster.Task("echo", "x")]);

        var metrics = await cluster.GetMetricsAsync();
        var workers = await cluster.GetWorkersAsync();

        Assert.Equal(s_metrics.Order(StringComparer.Ordinal), Names(metrics));
        Assert.All(s_seedMetrics, name => Assert.Equal(JsonValueKind.Number, metrics.GetProperty(name).ValueKind));
        Assert.Equal(s_queueMetrics.Order(StringComparer.Ordinal), Names(metrics.GetProperty("queues").GetProperty(cluster.Queue)));
        var entry = workers[workerId];
        Assert.Equal(s_worker.Order(StringComparer.Ordinal), Names(entry));
        Assert.Equal(JsonValueKind.String, entry.GetProperty("status").ValueKind);
        Assert.Equal(JsonValueKind.Number, entry.GetProperty("tasks_completed").ValueKind);
        Assert.True(entry.GetProperty("last_heartbeat").TryGetDateTimeOffset(out _), "last_heartbeat is an ISO 8601 time");
        Assert.Equal(JsonValueKind.Array, entry.GetProperty("task_types").ValueKind);
        Assert.Equal(JsonValueKind.Array, entry.GetProperty("running_tasks").ValueKind);
    }

    private static IEnumerable<string> Names(JsonElement element) =>
        element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal);
}
