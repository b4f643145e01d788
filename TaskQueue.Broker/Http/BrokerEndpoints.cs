using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Security;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Http;

/// <summary>
/// The JSON endpoints the project started with, on the HTTP/1.1 endpoint beside gRPC. Every figure but
/// uptime comes from Redis, so every broker answers the same. /workers and /dlq need read scope (on any queue;
/// /dlq shows only the queues the caller may read), /metrics too unless TaskQueue:Security:MetricsAccess is Open.
/// </summary>
public static class BrokerEndpoints
{
    private static readonly DateTimeOffset s_started = new(System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime());

    public static WebApplication MapBrokerEndpoints(this WebApplication app)
    {
        var metrics = app.MapGet("/metrics", GetMetricsAsync);
        if (app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value.MetricsAccess != MetricsAccess.Open)
        {
            metrics.RequireAnyQueue(ScopeActions.Read);
        }

        app.MapGet("/workers", GetWorkersAsync).RequireAnyQueue(ScopeActions.Read);
        app.MapGet("/dlq", GetDeadLettersAsync).RequireAnyQueue(ScopeActions.Read);
        return app;
    }

    private static async Task<BrokerMetrics> GetMetricsAsync(SystemSnapshotReader reader, CancellationToken cancellationToken)
    {
        var snapshot = await reader.ReadAsync(cancellationToken);
        var (counts, workers) = (snapshot.Queues, snapshot.Workers);
        var busy = workers.Count(w => w.Status == WorkerStatuses.Busy);
        return new BrokerMetrics(
            UptimeSeconds: Math.Round((snapshot.TakenAt - s_started).TotalSeconds, 1),
            PendingTasks: counts.Sum(c => c.Ready + c.Scheduled),
            InProgressTasks: counts.Sum(c => c.Leased),
            CompletedTasks: counts.Sum(c => c.Completed),
            DeadLetterTasks: counts.Sum(c => c.DeadLettered),
            ConnectedWorkers: workers.Count,
            BusyWorkers: busy,
            IdleWorkers: workers.Count(w => w.Status == WorkerStatuses.Idle),
            QuarantinedWorkers: workers.Count(w => w.Status == WorkerStatuses.Quarantined),
            TotalRetries: counts.Sum(c => c.Retried),
            TasksSubmitted: counts.Sum(c => c.Submitted),
            TasksCompleted: counts.Sum(c => c.Completed),
            TasksFailed: counts.Sum(c => c.Failed),
            TasksExpired: counts.Sum(c => c.Expired),
            TasksCancelled: counts.Sum(c => c.Cancelled),
            StaleReportsRejected: counts.Sum(c => c.StaleRejected),
            ScheduledTasks: counts.Sum(c => c.Scheduled),
            ReadyTasks: counts.Sum(c => c.Ready),
            Slots: snapshot.Slots,
            BusySlots: snapshot.BusySlots,
            Queues: counts.ToDictionary(c => c.Queue, c => new QueueMetrics(c.Ready, c.Scheduled, c.Leased, c.DeadLettered, c.Submitted, c.Completed, c.Retried)
            {
                Paused = c.Paused,
                ConcurrencyLimit = c.Limits.Concurrency,
                RateLimit = c.Limits.Rate,
            }));
    }

    private static async Task<Dictionary<string, WorkerStatus>> GetWorkersAsync(
        WorkerRegistry registry, IOptions<BrokerOptions> options, TimeProvider time)
    {
        var workers = await registry.ListAsync(time.GetUtcNow(), options.Value.WorkerSilenceLimit);
        return workers.ToDictionary(
            w => w.WorkerId,
            w => new WorkerStatus(w.Status, w.TasksCompleted, w.LastHeartbeat, w.Slots, w.Busy, w.StuckSlots, w.Queues, w.Broker, w.QuarantinedUntil)
            {
                TaskTypes = w.TaskTypes,
                RunningTasks = w.RunningTasks,
            });
    }

    private static async Task<IResult> GetDeadLettersAsync(RedisTaskStore store, ClaimsPrincipal user, string? queue, int? limit, CancellationToken cancellationToken)
    {
        if (queue is not null && TaskValidation.QueueNameProblem(queue) is { } problem)
        {
            return Results.BadRequest(new { error = problem });
        }

        var scopes = CallerIdentity.Scopes(user);
        if (queue is not null && !Scopes.Allow(scopes, ScopeActions.Read, [queue]))
        {
            return Results.StatusCode(StatusCodes.Status403Forbidden);
        }

        var queues = queue is null
            ? (await store.GetQueuesAsync(cancellationToken)).Where(name => Scopes.Allow(scopes, ScopeActions.Read, [name]))
            : [queue];

        var result = new Dictionary<string, object>();
        foreach (var name in queues)
        {
            var (tasks, total) = await store.ListDeadLettersAsync(name, 0, Math.Clamp(limit ?? 100, 1, 1000), cancellationToken);
            if (total > 0)
            {
                result[name] = new
                {
                    total,
                    tasks = tasks.Select(t => new { id = t.Id.ToString(), type = t.Type, attempts = t.Attempt, error = t.LastError, dead_at = t.FinishedAt }),
                };
            }
        }

        return Results.Ok(result);
    }

    public sealed record BrokerMetrics(
        [property: JsonPropertyName("uptime_seconds")] double UptimeSeconds,
        [property: JsonPropertyName("pending_tasks")] long PendingTasks,
        [property: JsonPropertyName("in_progress_tasks")] long InProgressTasks,
        [property: JsonPropertyName("completed_tasks")] long CompletedTasks,
        [property: JsonPropertyName("dead_letter_tasks")] long DeadLetterTasks,
        [property: JsonPropertyName("connected_workers")] int ConnectedWorkers,
        [property: JsonPropertyName("busy_workers")] int BusyWorkers,
        [property: JsonPropertyName("idle_workers")] int IdleWorkers,
        [property: JsonPropertyName("quarantined_workers")] int QuarantinedWorkers,
        [property: JsonPropertyName("total_retries")] long TotalRetries,
        [property: JsonPropertyName("tasks_submitted")] long TasksSubmitted,
        [property: JsonPropertyName("tasks_completed")] long TasksCompleted,
        [property: JsonPropertyName("tasks_failed")] long TasksFailed,
        [property: JsonPropertyName("tasks_expired")] long TasksExpired,
        [property: JsonPropertyName("tasks_cancelled")] long TasksCancelled,
        [property: JsonPropertyName("stale_reports_rejected")] long StaleReportsRejected,
        [property: JsonPropertyName("scheduled_tasks")] long ScheduledTasks,
        [property: JsonPropertyName("ready_tasks")] long ReadyTasks,
        [property: JsonPropertyName("slots")] int Slots,
        [property: JsonPropertyName("busy_slots")] int BusySlots,
        [property: JsonPropertyName("queues")] Dictionary<string, QueueMetrics> Queues);

    public sealed record QueueMetrics(
        [property: JsonPropertyName("ready")] long Ready,
        [property: JsonPropertyName("scheduled")] long Scheduled,
        [property: JsonPropertyName("in_progress")] long InProgress,
        [property: JsonPropertyName("dead_letter")] long DeadLetter,
        [property: JsonPropertyName("submitted")] long Submitted,
        [property: JsonPropertyName("completed")] long Completed,
        [property: JsonPropertyName("retries")] long Retries)
    {
        /// <summary>Flow control: the queue is paused (dispatches nothing).</summary>
        [JsonPropertyName("paused")]
        public bool Paused { get; init; }

        /// <summary>The queue's concurrency limit; null: none.</summary>
        [JsonPropertyName("concurrency_limit")]
        public int? ConcurrencyLimit { get; init; }

        /// <summary>The queue's rate limit in tasks per second; null: none.</summary>
        [JsonPropertyName("rate_limit")]
        public double? RateLimit { get; init; }
    }

    public sealed record WorkerStatus(
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("tasks_completed")] long TasksCompleted,
        [property: JsonPropertyName("last_heartbeat")] DateTimeOffset? LastHeartbeat,
        [property: JsonPropertyName("slots")] int Slots,
        [property: JsonPropertyName("busy_slots")] int BusySlots,
        [property: JsonPropertyName("stuck_slots")] int StuckSlots,
        [property: JsonPropertyName("queues")] IReadOnlyList<string> Queues,
        [property: JsonPropertyName("broker")] string Broker,
        [property: JsonPropertyName("quarantined_until")] DateTimeOffset? QuarantinedUntil)
    {
        /// <summary>The task types it handles; empty: every type.</summary>
        [JsonPropertyName("task_types")]
        public IReadOnlyList<string> TaskTypes { get; init; } = [];

        /// <summary>The tasks it holds leased ("queue:id"), the first 100; busy_slots counts them all.</summary>
        [JsonPropertyName("running_tasks")]
        public IReadOnlyList<string> RunningTasks { get; init; } = [];
    }
}
