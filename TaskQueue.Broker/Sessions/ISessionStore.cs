using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Sessions;

/// <summary>
/// What a worker session needs from Redis: renewing and shortening leases, settling reports (through the
/// outcome batcher) and the worker registry's heartbeat. The seam the session lifecycle's unit tests fake.
/// </summary>
internal interface ISessionStore
{
    /// <summary>Extends leases of one queue; each result says whether the token was still valid (or the attempt timed out, past its timeout plus <paramref name="timeoutGrace"/>).</summary>
    Task<RenewResult> RenewAsync(string queue, IReadOnlyList<LeaseRef> leases, TimeSpan lease, TimeSpan timeoutGrace, CancellationToken cancellationToken);

    /// <summary>Ends the given leases after a short grace (their worker's connection broke).</summary>
    Task ShortenLeasesAsync(string queue, IReadOnlyList<LeaseRef> leases, TimeSpan grace, CancellationToken cancellationToken);

    /// <summary>
    /// Binds the worker id to <paramref name="owner"/> for <paramref name="keep"/> (or refreshes the binding);
    /// false, changing nothing, when the id is bound to another identity.
    /// </summary>
    Task<bool> BindWorkerIdAsync(string workerId, string owner, TimeSpan keep);

    /// <summary>Records a heartbeat in the worker registry; returns the worker's quarantine deadline and whether it is to drain.</summary>
    Task<HeartbeatAnswer> HeartbeatAsync(WorkerHeartbeat heartbeat);

    /// <summary>
    /// Settles a completion; while Redis is unreachable it is tried again until <paramref name="retryUntil"/>, then fails
    /// (<see cref="Dispatch.ReportNotSettledException"/>).
    /// </summary>
    /// <param name="held">The lease as the reporting session holds it (for telemetry), if it does.</param>
    /// <param name="retryUntil">The lease's deadline as this broker knows it (null: one try).</param>
    Task<TransitionResult> CompleteAsync(TaskCompletion completion, InFlightTask? held, DateTimeOffset? retryUntil);

    /// <summary>Settles a failure, tried again as <see cref="CompleteAsync"/>.</summary>
    Task<TransitionResult> FailAsync(TaskFailure failure, InFlightTask? held, DateTimeOffset? retryUntil);

    /// <summary>Hands a lease back unfinished, tried again as <see cref="CompleteAsync"/>.</summary>
    Task<TransitionResult> ReleaseAsync(LeaseRef lease, DateTimeOffset? retryUntil);

    /// <summary>The largest result the store keeps (TaskQueue:Store:MaxResultBytes), told to workers in Welcome.</summary>
    long MaxResultBytes { get; }
}

/// <summary>A worker's entry in the registry as one heartbeat states it.</summary>
internal sealed record WorkerHeartbeat(
    string WorkerId, string Broker, IReadOnlyList<string> Queues, int Slots, int Busy, long CompletedDelta,
    bool Connected, DateTimeOffset Now, DateTimeOffset? ConnectedAt = null)
{
    /// <summary>Slots held by handlers whose lease was lost and that have not returned.</summary>
    public int StuckSlots { get; init; }

    /// <summary>The task types of its Hello (empty: every type), written when it connects; null leaves them as they are.</summary>
    public IReadOnlyList<string>? TaskTypes { get; init; }

    /// <summary>The ids of the tasks its session holds leased now, at most <see cref="WorkerRegistry.MaxListedRunning"/>.</summary>
    public IReadOnlyCollection<string> RunningTaskIds { get; init; } = [];

    /// <summary>The session is draining: the registry shows it so, and keeps the drain flag set.</summary>
    public bool Draining { get; init; }

    /// <summary>The worker process its Hello named ('' for none), recorded when it connects.</summary>
    public string Instance { get; init; } = "";
}
