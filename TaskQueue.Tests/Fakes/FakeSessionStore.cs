using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Fakes;

/// <summary>
/// The session lifecycle's Redis, in memory: renewals answer with <see cref="RenewAnswer"/>, the registry
/// answers with <see cref="QuarantinedUntil"/>, and each report waits until the test settles it.
/// </summary>
internal sealed class FakeSessionStore : ISessionStore
{
    private readonly Lock _lock = new();
    private readonly List<PendingReport> _reports = [];

    /// <summary>What renewing a lease answers; Ok unless a test says otherwise.</summary>
    public Func<LeaseRef, TransitionResult> RenewAnswer { get; set; } = _ => TransitionResult.Ok;

    /// <summary>Thrown by every renewal and heartbeat while set (Redis unreachable).</summary>
    public Exception? Outage { get; set; }

    /// <summary>The quarantine deadline the registry answers every heartbeat with.</summary>
    public DateTimeOffset? QuarantinedUntil { get; set; }

    /// <summary>One entry per renewal script call: its queue and leases.</summary>
    public List<(string Queue, IReadOnlyList<LeaseRef> Leases)> Renewals { get; } = [];

    public List<(string Queue, IReadOnlyList<LeaseRef> Leases, TimeSpan Grace)> Shortened { get; } = [];

    public List<WorkerHeartbeat> Heartbeats { get; } = [];

    /// <summary>What heartbeats read back as the registry's drain flag (DrainWorker on some broker).</summary>
    public bool DrainRequested { get; set; }

    public IReadOnlyList<PendingReport> Reports
    {
        get
        {
            lock (_lock)
            {
                return [.. _reports];
            }
        }
    }

    public Task<RenewResult> RenewAsync(string queue, IReadOnlyList<LeaseRef> leases, TimeSpan lease, TimeSpan timeoutGrace, CancellationToken cancellationToken)
    {
        if (Outage is { } outage)
        {
            return Task.FromException<RenewResult>(outage);
        }

        Renewals.Add((queue, [.. leases]));
        return Task.FromResult(new RenewResult(DateTimeOffset.UnixEpoch + lease, [.. leases.Select(RenewAnswer)]));
    }

    public Task ShortenLeasesAsync(string queue, IReadOnlyList<LeaseRef> leases, TimeSpan grace, CancellationToken cancellationToken)
    {
        Shortened.Add((queue, [.. leases], grace));
        return Task.CompletedTask;
    }

    /// <summary>Worker id → the identity it is bound to.</summary>
    public Dictionary<string, string> Owners { get; } = new(StringComparer.Ordinal);

    public Task<bool> BindWorkerIdAsync(string workerId, string owner, TimeSpan keep)
    {
        lock (_lock)
        {
            return Task.FromResult(Owners.TryAdd(workerId, owner) || Owners[workerId] == owner);
        }
    }

    public Task<HeartbeatAnswer> HeartbeatAsync(WorkerHeartbeat heartbeat)
    {
        if (Outage is { } outage)
        {
            return Task.FromException<HeartbeatAnswer>(outage);
        }

        Heartbeats.Add(heartbeat);
        return Task.FromResult(new HeartbeatAnswer(0, QuarantinedUntil, DrainRequested));
    }

    public Task<TransitionResult> CompleteAsync(TaskCompletion completion, InFlightTask? held, DateTimeOffset? retryUntil) =>
        Pend("complete", completion.Id, held, retryUntil);

    public Task<TransitionResult> FailAsync(TaskFailure failure, InFlightTask? held, DateTimeOffset? retryUntil) =>
        Pend("fail", failure.Id, held, retryUntil);

    public Task<TransitionResult> ReleaseAsync(LeaseRef lease, DateTimeOffset? retryUntil) => Pend("release", lease.Id, null, retryUntil);

    private Task<TransitionResult> Pend(string kind, TaskId id, InFlightTask? held, DateTimeOffset? retryUntil)
    {
        var report = new PendingReport(kind, id, held) { RetryUntil = retryUntil };
        lock (_lock)
        {
            _reports.Add(report);
        }

        return report.Result.Task;
    }

    /// <summary>A report on its way to Redis: the test decides what Redis answers, and when.</summary>
    public sealed record PendingReport(string Kind, TaskId Id, InFlightTask? Held)
    {
        /// <summary>Until when the broker would try it again while Redis is unreachable (the lease's deadline as the session knows it).</summary>
        public DateTimeOffset? RetryUntil { get; init; }

        public TaskCompletionSource<TransitionResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public long MaxResultBytes { get; set; } = 1024 * 1024;
}
