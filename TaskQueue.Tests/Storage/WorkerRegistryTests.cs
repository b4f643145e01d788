using TaskQueue.Broker;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

/// <summary>The worker registry's entry on a real Redis: task types, running tasks (bounded) and the drain flag, as GET /workers reads them.</summary>
public sealed class WorkerRegistryTests
{
    private static readonly TimeSpan s_silence = new BrokerOptions().WorkerSilenceLimit;

    private static async Task<(StoreHarness H, WorkerRegistry Registry, string WorkerId)> CreateAsync()
    {
        var h = await StoreHarness.CreateAsync();
        return (h, new WorkerRegistry(h.Redis.Connection), "w-" + Guid.NewGuid().ToString("N")[..10]);
    }

    private static async Task<WorkerRecord> ReadAsync(WorkerRegistry registry, string workerId) =>
        await registry.GetAsync(workerId, DateTimeOffset.UtcNow, s_silence) ?? throw new InvalidOperationException($"{workerId} is not in the registry");

    [Fact]
    public async Task A_heartbeat_writes_the_task_types_of_the_hello_and_the_running_task_ids_and_both_read_back()
    {
        var (h, registry, workerId) = await CreateAsync();
        var running = new[] { TaskId.New(h.Queue).ToString(), TaskId.New(h.Queue).ToString() };
        var now = DateTimeOffset.UtcNow;

        await registry.HeartbeatAsync(workerId, "broker-1", [h.Queue], 4, 2, 0, connected: true, now, connectedAt: now, taskTypes: ["resize", "email"], running: running);
        var listed = (await registry.ListAsync(DateTimeOffset.UtcNow, s_silence)).Single(w => w.WorkerId == workerId);

        Assert.Equal(["resize", "email"], listed.TaskTypes);
        Assert.Equal(running, listed.RunningTasks);
        Assert.Equal(WorkerStatuses.Busy, listed.Status);
        Assert.Equal(listed, await ReadAsync(registry, workerId), new RecordFields());
    }

    [Fact]
    public async Task The_entry_lists_at_most_a_hundred_running_tasks_and_busy_counts_them_all()
    {
        var (h, registry, workerId) = await CreateAsync();
        var running = Enumerable.Range(0, 150).Select(_ => TaskId.New(h.Queue).ToString()).ToList();
        var now = DateTimeOffset.UtcNow;

        await registry.HeartbeatAsync(workerId, "broker-1", [h.Queue], 150, running.Count, 0, connected: true, now, running: running);
        var worker = await ReadAsync(registry, workerId);

        Assert.Equal(WorkerRegistry.MaxListedRunning, worker.RunningTasks.Count);
        Assert.Equal(running.Take(WorkerRegistry.MaxListedRunning), worker.RunningTasks);
        Assert.Equal(150, worker.Busy);
    }

    [Fact]
    public async Task A_later_heartbeat_replaces_the_running_tasks_and_leaves_the_types_of_the_hello()
    {
        var (h, registry, workerId) = await CreateAsync();
        var first = TaskId.New(h.Queue).ToString();
        var now = DateTimeOffset.UtcNow;
        await registry.HeartbeatAsync(workerId, "broker-1", [h.Queue], 2, 1, 0, connected: true, now, connectedAt: now, taskTypes: ["resize"], running: [first]);

        await registry.HeartbeatAsync(workerId, "broker-1", [h.Queue], 2, 0, 1, connected: true, now.AddSeconds(1), running: []);
        var worker = await ReadAsync(registry, workerId);

        Assert.Empty(worker.RunningTasks);
        Assert.Equal(["resize"], worker.TaskTypes);
        Assert.Equal(WorkerStatuses.Idle, worker.Status);
    }

    [Fact]
    public async Task A_drain_request_is_read_back_by_the_next_heartbeat_shown_as_draining_and_cleared_when_a_new_process_connects()
    {
        var (h, registry, workerId) = await CreateAsync();
        var now = DateTimeOffset.UtcNow;
        var joined = await registry.HeartbeatAsync(workerId, "broker-1", [h.Queue], 2, 0, 0, connected: true, now, connectedAt: now);

        Assert.NotNull(await registry.RequestDrainAsync(workerId, DateTimeOffset.UtcNow, s_silence));
        var next = await registry.HeartbeatAsync(workerId, "broker-1", [h.Queue], 2, 0, 0, connected: true, now.AddSeconds(1));
        var drainedStatus = (await ReadAsync(registry, workerId)).Status;
        var restarted = await registry.HeartbeatAsync(workerId, "broker-2", [h.Queue], 2, 0, 0, connected: true, now.AddSeconds(2), connectedAt: now.AddSeconds(2));
        var reconnectedDraining = await registry.HeartbeatAsync(
            workerId, "broker-2", [h.Queue], 2, 0, 0, connected: true, now.AddSeconds(3), connectedAt: now.AddSeconds(3), draining: true);

        Assert.False(joined.Draining);
        Assert.True(next.Draining);
        Assert.Equal(WorkerStatuses.Draining, drainedStatus);
        Assert.False(restarted.Draining);
        Assert.True(reconnectedDraining.Draining);
        Assert.Equal(WorkerStatuses.Draining, (await ReadAsync(registry, workerId)).Status);
    }

    [Fact]
    public async Task A_drain_asked_for_between_connections_holds_when_the_same_process_reconnects_and_not_for_a_new_process()
    {
        var (h, registry, workerId) = await CreateAsync();
        var now = DateTimeOffset.UtcNow;
        await registry.HeartbeatAsync(workerId, "broker-1", [h.Queue], 2, 0, 0, connected: true, now, connectedAt: now, instance: "process-a");
        await registry.HeartbeatAsync(workerId, "broker-1", [h.Queue], 2, 0, 0, connected: false, now.AddSeconds(1));

        Assert.NotNull(await registry.RequestDrainAsync(workerId, DateTimeOffset.UtcNow, s_silence));
        var sameProcess = await registry.HeartbeatAsync(
            workerId, "broker-2", [h.Queue], 2, 0, 0, connected: true, now.AddSeconds(2), connectedAt: now.AddSeconds(2), instance: "process-a");
        var statusAfterReconnect = (await ReadAsync(registry, workerId)).Status;
        var newProcess = await registry.HeartbeatAsync(
            workerId, "broker-2", [h.Queue], 2, 0, 0, connected: true, now.AddSeconds(3), connectedAt: now.AddSeconds(3), instance: "process-b");
        var next = await registry.HeartbeatAsync(workerId, "broker-2", [h.Queue], 2, 0, 0, connected: true, now.AddSeconds(4));

        Assert.True(sameProcess.Draining);
        Assert.Equal(WorkerStatuses.Draining, statusAfterReconnect);
        Assert.False(newProcess.Draining);
        Assert.False(next.Draining);
        Assert.Equal(WorkerStatuses.Idle, (await ReadAsync(registry, workerId)).Status);
    }

    [Fact]
    public async Task A_drain_request_for_a_worker_the_registry_does_not_know_changes_nothing()
    {
        var (h, registry, workerId) = await CreateAsync();

        Assert.Null(await registry.RequestDrainAsync(workerId, DateTimeOffset.UtcNow, s_silence));
        Assert.False(await h.Redis.Connection.GetDatabase().KeyExistsAsync(RedisKeys.Worker(workerId)));
        Assert.DoesNotContain(await registry.ListAsync(DateTimeOffset.UtcNow, s_silence), w => w.WorkerId == workerId);
    }

    /// <summary>Records compared field by field (their lists are arrays, which records compare by reference).</summary>
    private sealed class RecordFields : IEqualityComparer<WorkerRecord>
    {
        public bool Equals(WorkerRecord? x, WorkerRecord? y) =>
            x is not null && y is not null && x.WorkerId == y.WorkerId && x.Status == y.Status && x.Busy == y.Busy
            && x.Queues.SequenceEqual(y.Queues) && x.TaskTypes.SequenceEqual(y.TaskTypes) && x.RunningTasks.SequenceEqual(y.RunningTasks);

        public int GetHashCode(WorkerRecord obj) => obj.WorkerId.GetHashCode(StringComparison.Ordinal);
    }
}
