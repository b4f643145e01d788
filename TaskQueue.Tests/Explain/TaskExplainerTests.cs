using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker;
using TaskQueue.Broker.Explain;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Explain;

/// <summary>
/// Every reason Explain gives, from the task's hash, its ready stream and the worker registry on a real Redis (workers as
/// the registry records them; the process tests connect real ones).
/// </summary>
public sealed class TaskExplainerTests
{
    private static readonly TimeSpan s_silence = new BrokerOptions().WorkerSilenceLimit;

    private static async Task<(StoreHarness H, TaskExplainer Explainer, WorkerRegistry Registry)> CreateAsync()
    {
        var h = await StoreHarness.CreateAsync();
        var registry = new WorkerRegistry(h.Redis.Connection);
        return (h, new TaskExplainer(h.Store, registry, h.Redis.Connection, Options.Create(new BrokerOptions()), TimeProvider.System), registry);
    }

    /// <summary>Records a connected worker of the harness's queue as its broker would.</summary>
    private static async Task<string> WorkerAsync(
        StoreHarness h, WorkerRegistry registry, int slots = 2, int busy = 0, int stuck = 0, IReadOnlyList<string>? types = null, string? queue = null)
    {
        var id = "w-" + Guid.NewGuid().ToString("N")[..10];
        var now = DateTimeOffset.UtcNow;
        await registry.HeartbeatAsync(id, "broker-1", [queue ?? h.Queue], slots, busy, 0, connected: true, now, now, stuck, types ?? []);
        return id;
    }

    private static async Task<TaskExplanation> ExplainAsync(TaskExplainer explainer, TaskId id) =>
        await explainer.ExplainAsync(id, CancellationToken.None) ?? throw new InvalidOperationException($"{id} is gone");

    [Fact]
    public async Task A_missing_task_has_no_explanation()
    {
        var (h, explainer, _) = await CreateAsync();

        Assert.Null(await explainer.ExplainAsync(TaskId.New(h.Queue), CancellationToken.None));
    }

    [Fact]
    public async Task A_delayed_task_is_scheduled_until_its_due_time()
    {
        var (h, explainer, _) = await CreateAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromHours(1) })).Id;

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.Scheduled, why.Reason);
        Assert.Equal((await SnapshotAsync(h, id)).DueAt, why.Until);
        Assert.StartsWith("scheduled until ", why.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ready_task_without_a_worker_for_its_queue_says_so()
    {
        var (h, explainer, registry) = await CreateAsync();
        await WorkerAsync(h, registry, queue: h.Queue + "-other");
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.NoWorkerForQueue, why.Reason);
        Assert.Equal($"no connected worker consumes queue '{h.Queue}'", why.Detail);
    }

    [Fact]
    public async Task A_drained_worker_counts_as_none_and_the_reason_says_it_drains()
    {
        var (h, explainer, registry) = await CreateAsync();
        var worker = await WorkerAsync(h, registry);
        await registry.RequestDrainAsync(worker, DateTimeOffset.UtcNow, s_silence);
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.NoWorkerForQueue, why.Reason);
        Assert.Equal($"no connected worker consumes queue '{h.Queue}' (1 worker connected, draining)", why.Detail);
    }

    [Fact]
    public async Task A_disconnected_worker_counts_as_none()
    {
        var (h, explainer, registry) = await CreateAsync();
        var now = DateTimeOffset.UtcNow;
        await registry.HeartbeatAsync("gone-" + h.Queue, "broker-1", [h.Queue], 2, 0, 0, connected: false, now, now);
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;

        Assert.Equal(ExplanationReason.NoWorkerForQueue, (await ExplainAsync(explainer, id)).Reason);
    }

    [Fact]
    public async Task A_ready_task_whose_type_no_worker_of_its_queue_handles_says_so()
    {
        var (h, explainer, registry) = await CreateAsync();
        await WorkerAsync(h, registry, types: ["resize", "thumbnail"]);
        var id = (await h.Store.EnqueueAsync(h.Task(type: "transcode"))).Id;

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.NoWorkerForType, why.Reason);
        Assert.Contains("none handles type 'transcode'", why.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ready_task_whose_every_capable_worker_is_quarantined_says_until_when()
    {
        var (h, explainer, registry) = await CreateAsync();
        var worker = await WorkerAsync(h, registry);
        await WorkerAsync(h, registry, types: ["other"]);
        var until = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds());
        await registry.QuarantineAsync(worker, until);
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.WorkerQuarantined, why.Reason);
        Assert.Equal(until, why.Until);
        Assert.Contains(worker, why.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ready_task_at_the_head_of_its_stream_with_every_slot_busy_or_stuck_says_all_slots_busy()
    {
        var (h, explainer, registry) = await CreateAsync();
        await WorkerAsync(h, registry, slots: 2, busy: 1, stuck: 1);
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.AllSlotsBusy, why.Reason);
        Assert.Equal(0, why.Ahead);
        Assert.Contains("(1 stuck)", why.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ready_task_at_the_head_of_its_stream_with_a_free_slot_is_being_dispatched()
    {
        var (h, explainer, registry) = await CreateAsync();
        await WorkerAsync(h, registry, slots: 2, busy: 1);
        await h.Store.EnqueueAsync(h.Task());
        await ClaimOneAsync(h); // leased: no longer ahead of anything
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.Dispatching, why.Reason);
        Assert.Equal(0, why.Ahead);
    }

    [Fact]
    public async Task A_ready_task_counts_the_undelivered_tasks_of_its_stream_ahead_of_it()
    {
        var (h, explainer, registry) = await CreateAsync();
        await WorkerAsync(h, registry, slots: 2, busy: 2);
        await EnqueueManyAsync(h, 4);
        await ClaimOneAsync(h);
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;
        await h.Store.EnqueueAsync(h.Task()); // behind it: not counted
        await h.Store.EnqueueAsync(h.Task() with { Priority = 5 }); // another stream: not counted

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.WaitingBehind, why.Reason);
        Assert.Equal((3, false), (why.Ahead, why.AheadIsLowerBound));
        Assert.StartsWith("waiting behind 3 tasks", why.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Counting_the_tasks_ahead_stops_at_its_bound_and_says_it_is_a_lower_bound()
    {
        var (h, explainer, registry) = await CreateAsync();
        await WorkerAsync(h, registry);
        for (var i = 0; i < TaskExplainer.MaxAhead + 50; i += 1000)
        {
            await EnqueueManyAsync(h, 1000);
        }

        var id = (await h.Store.EnqueueAsync(h.Task())).Id;

        var why = await ExplainAsync(explainer, id);

        Assert.Equal(ExplanationReason.WaitingBehind, why.Reason);
        Assert.Equal((TaskExplainer.MaxAhead, true), (why.Ahead, why.AheadIsLowerBound));
        Assert.StartsWith("waiting behind at least 10,000 tasks", why.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_leased_task_names_its_worker_and_lease_deadline()
    {
        var (h, explainer, _) = await CreateAsync();
        await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 4 });
        var leased = await ClaimOneAsync(h, worker: "worker-7");

        var why = await ExplainAsync(explainer, leased.Id);

        Assert.Equal(ExplanationReason.Leased, why.Reason);
        Assert.Equal("worker-7", why.WorkerId);
        Assert.Equal(leased.LeaseDeadline, why.Until);
        Assert.Contains("(attempt 1 of 4)", why.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Final_tasks_say_how_they_ended()
    {
        var (h, explainer, _) = await CreateAsync();
        await h.Store.EnqueueAsync(h.Task());
        var completed = await ClaimOneAsync(h);
        await CompleteAsync(h, completed);
        await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 1 });
        var dead = await ClaimOneAsync(h);
        await FailAsync(h, dead, "it broke", retryable: false);
        var cancelled = (await h.Store.EnqueueAsync(h.Task())).Id;
        await h.Store.CancelAsync(cancelled);
        var expired = (await h.Store.EnqueueAsync(h.Task() with { ExpiresAfter = TimeSpan.FromSeconds(1) })).Id;
        h.Advance(TimeSpan.FromSeconds(5));
        await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.Equal(ExplanationReason.Completed, (await ExplainAsync(explainer, completed.Id)).Reason);
        var deadWhy = await ExplainAsync(explainer, dead.Id);
        Assert.Equal(ExplanationReason.DeadLettered, deadWhy.Reason);
        Assert.EndsWith("after 1 of 1 attempts: it broke", deadWhy.Detail, StringComparison.Ordinal);
        Assert.Equal(ExplanationReason.Cancelled, (await ExplainAsync(explainer, cancelled)).Reason);
        Assert.Equal(ExplanationReason.Expired, (await ExplainAsync(explainer, expired)).Reason);
    }

    [Fact]
    public async Task A_ready_task_whose_group_is_at_its_concurrency_limit_or_out_of_tokens_says_group_limited()
    {
        var (h, explainer, registry) = await CreateAsync();
        await WorkerAsync(h, registry, slots: 8);
        await h.Db.HashSetAsync(RedisKeys.FlowGroups(h.Queue), [new("full", "1 - -"), new("paced", "- 1 1")]);
        await h.Store.EnqueueBatchAsync([h.Task() with { Group = "full" }, h.Task() with { Group = "paced" }]);
        Assert.Equal(2, (await h.Store.ClaimAsync(h.Queue, "w", 8, Lease)).Tasks.Count);
        var full = (await h.Store.EnqueueAsync(h.Task() with { Group = "full" })).Id;
        var paced = (await h.Store.EnqueueAsync(h.Task() with { Group = "paced" })).Id;
        var free = (await h.Store.EnqueueAsync(h.Task() with { Group = "free" })).Id;

        var fullWhy = await ExplainAsync(explainer, full);
        var pacedWhy = await ExplainAsync(explainer, paced);

        Assert.Equal(ExplanationReason.GroupLimited, fullWhy.Reason);
        Assert.Equal("its group 'full' is at its concurrency limit: 1 of 1 leased", fullWhy.Detail);
        Assert.Equal(ExplanationReason.GroupLimited, pacedWhy.Reason);
        Assert.StartsWith("its group 'paced' is rate-limited until ", pacedWhy.Detail, StringComparison.Ordinal);
        Assert.InRange(pacedWhy.Until!.Value, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddSeconds(1.5));
        Assert.Equal(ExplanationReason.Dispatching, (await ExplainAsync(explainer, free)).Reason);
    }
}
