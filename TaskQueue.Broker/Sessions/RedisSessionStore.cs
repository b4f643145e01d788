using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Sessions;

/// <summary>The session store over Redis: the task store, the worker registry and the outcome batcher.</summary>
internal sealed class RedisSessionStore(RedisTaskStore store, WorkerRegistry registry, OutcomeBatcher outcomes) : ISessionStore
{
    public Task<RenewResult> RenewAsync(string queue, IReadOnlyList<LeaseRef> leases, TimeSpan lease, CancellationToken cancellationToken) =>
        store.RenewAsync(queue, leases, lease, cancellationToken);

    public Task ShortenLeasesAsync(string queue, IReadOnlyList<LeaseRef> leases, TimeSpan grace, CancellationToken cancellationToken) =>
        store.ShortenLeasesAsync(queue, leases, grace, cancellationToken);

    public async Task<DateTimeOffset?> HeartbeatAsync(WorkerHeartbeat heartbeat)
    {
        var (_, quarantinedUntil) = await registry.HeartbeatAsync(
            heartbeat.WorkerId, heartbeat.Broker, heartbeat.Queues, heartbeat.Slots, heartbeat.Busy, heartbeat.CompletedDelta,
            heartbeat.Connected, heartbeat.Now, heartbeat.ConnectedAt);
        return quarantinedUntil;
    }

    public Task<TransitionResult> CompleteAsync(TaskCompletion completion, InFlightTask? held) => outcomes.CompleteAsync(completion, held);

    public Task<TransitionResult> FailAsync(TaskFailure failure, InFlightTask? held) => outcomes.FailAsync(failure, held);

    public Task<TransitionResult> ReleaseAsync(LeaseRef lease) => outcomes.ReleaseAsync(lease);
}
