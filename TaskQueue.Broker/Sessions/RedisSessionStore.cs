using StackExchange.Redis;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Sessions;

/// <summary>The session store over Redis: the task store, the worker registry and the outcome batcher.</summary>
internal sealed class RedisSessionStore(RedisTaskStore store, WorkerRegistry registry, OutcomeBatcher outcomes, IConnectionMultiplexer redis) : ISessionStore
{
    public async Task<bool> BindWorkerIdAsync(string workerId, string owner, TimeSpan keep)
    {
        var db = redis.GetDatabase();
        var key = RedisKeys.WorkerOwner(workerId);
        // SET NX, else the owner's own binding is refreshed; a binding that expired in between is taken on the second round.
        for (var round = 0; round < 2; round++)
        {
            if (await db.StringSetAsync(key, owner, keep, When.NotExists))
            {
                return true;
            }

            var current = await db.StringGetAsync(key);
            if (current.IsNull)
            {
                continue;
            }

            return current == owner && await db.KeyExpireAsync(key, keep);
        }

        return false;
    }

    public Task<RenewResult> RenewAsync(string queue, IReadOnlyList<LeaseRef> leases, TimeSpan lease, TimeSpan timeoutGrace, CancellationToken cancellationToken) =>
        store.RenewAsync(queue, leases, lease, timeoutGrace, cancellationToken);

    public Task ShortenLeasesAsync(string queue, IReadOnlyList<LeaseRef> leases, TimeSpan grace, CancellationToken cancellationToken) =>
        store.ShortenLeasesAsync(queue, leases, grace, cancellationToken);

    public Task<HeartbeatAnswer> HeartbeatAsync(WorkerHeartbeat heartbeat) =>
        registry.HeartbeatAsync(
            heartbeat.WorkerId, heartbeat.Broker, heartbeat.Queues, heartbeat.Slots, heartbeat.Busy, heartbeat.CompletedDelta,
            heartbeat.Connected, heartbeat.Now, heartbeat.ConnectedAt, heartbeat.StuckSlots, heartbeat.TaskTypes,
            heartbeat.RunningTaskIds, heartbeat.Draining, heartbeat.Instance);

    public Task<TransitionResult> CompleteAsync(TaskCompletion completion, InFlightTask? held, DateTimeOffset? retryUntil) =>
        outcomes.CompleteAsync(completion, held, retryUntil);

    public Task<TransitionResult> FailAsync(TaskFailure failure, InFlightTask? held, DateTimeOffset? retryUntil) =>
        outcomes.FailAsync(failure, held, retryUntil);

    public Task<TransitionResult> ReleaseAsync(LeaseRef lease, DateTimeOffset? retryUntil) => outcomes.ReleaseAsync(lease, retryUntil);

    public long MaxResultBytes => store.Options.MaxResultBytes;
}
