using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Sessions;

/// <summary>What a worker says about itself in its hello, checked by the stream's edge; <paramref name="Owner"/> is the caller's identity.</summary>
internal sealed record WorkerHello(string WorkerId, IReadOnlyList<string> Queues, IReadOnlyList<string> TaskTypes, int Concurrency, bool Batches, string Owner)
{
    /// <summary>The worker says it is draining (drained before a reconnect, or shutting down): it gets no work from the start.</summary>
    public bool Draining { get; init; }

    /// <summary>The worker process, the same across its reconnects ('' when the worker names none).</summary>
    public string Instance { get; init; } = "";
}

/// <summary>The worker id of a hello is bound to another identity: the session does not open, and nothing changed.</summary>
internal sealed class WorkerIdTakenException(string workerId) : Exception($"Worker id '{workerId}' belongs to another identity.");

/// <summary>A task a worker says it runs, named as the worker named it (an id that is none is lost).</summary>
internal readonly record struct RunningLease(string TaskId, string Token);

/// <summary>The reports of one worker message, in the order they go to Redis.</summary>
internal sealed record WorkerReports(IReadOnlyList<TaskCompletion> Completed, IReadOnlyList<TaskFailure> Failed, IReadOnlyList<LeaseRef> Released);

/// <summary>
/// A worker session from hello to hang-up: open (re-attach the leases the worker still holds, welcome
/// it), join (registry, heartbeat, dispatch), heartbeats that renew its leases, reports that free its
/// slots once Redis settled them, drain, and close (its leases end after the disconnect grace). Leases
/// are renewed in one place for re-attach and heartbeats. No gRPC here: the stream's edge parses.
/// </summary>
internal sealed class SessionLifecycle(
    ISessionStore store,
    SessionRegistry sessions,
    Dispatcher dispatcher,
    WorkerQuarantine quarantine,
    WorkerDrains drains,
    BrokerIdentity identity,
    IOptions<BrokerOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<SessionLifecycle> logger)
{
    /// <summary>
    /// How long a worker id stays bound to its identity after its last heartbeat: a worker that restarts or moves to
    /// another broker within it keeps its id, and no other identity can take it (and its leases) meanwhile.
    /// </summary>
    public static readonly TimeSpan WorkerIdBinding = TimeSpan.FromMinutes(15);

    private readonly BrokerOptions _options = options.Value;

    /// <summary>
    /// Starts a session: binds the worker id to the caller (or throws <see cref="WorkerIdTakenException"/>, before
    /// anything else reaches Redis), re-attaches the leases the worker still holds and welcomes it with the ones it lost.
    /// </summary>
    public async Task<WorkerSession> OpenAsync(WorkerHello hello, IReadOnlyList<RunningLease> running, CancellationToken cancellationToken)
    {
        if (!await store.BindWorkerIdAsync(hello.WorkerId, hello.Owner, WorkerIdBinding))
        {
            throw new WorkerIdTakenException(hello.WorkerId);
        }

        var session = new WorkerSession(hello.WorkerId, hello.Queues, hello.TaskTypes, hello.Concurrency, time.GetUtcNow())
        {
            Batches = hello.Batches,
            Owner = hello.Owner,
            Draining = hello.Draining,
            Instance = hello.Instance,
        };
        var lost = await ReattachAsync(session, running, cancellationToken);
        session.SendWelcome(identity.BrokerId, _options.LeaseDuration, _options.HeartbeatInterval, lost, store.MaxResultBytes);
        return session;
    }

    /// <summary>The welcomed session joins: findable by worker id, recorded as connected, then served by the dispatcher.</summary>
    public async Task JoinAsync(WorkerSession session)
    {
        sessions.Register(session);
        // Recorded before it gets work, so a quarantine it is under holds from its first claim.
        await RecordHeartbeatAsync(session, connected: true, connectedAt: session.ConnectedAt);
        dispatcher.Attach(session);
        Log.WorkerConnected(logger, session.WorkerId, session.Queues, session.Concurrency, session.Busy);
    }

    /// <summary>The worker said something: it is alive.</summary>
    public void Seen(WorkerSession session) => session.LastSeen = time.GetUtcNow();

    /// <summary>
    /// Calls <paramref name="silent"/> once the worker has said nothing for the silence limit (checked every heartbeat
    /// interval). Time the broker spends handling one of its messages does not count: while Redis is frozen a
    /// heartbeat waits, the stream is not read, and the worker, whose messages queue meanwhile, is not silent.
    /// </summary>
    public ITimer WatchSilence(WorkerSession session, Action silent) =>
        time.CreateTimer(
            _ =>
            {
                if (!session.Handling && time.GetUtcNow() - session.LastSeen > _options.WorkerSilenceLimit)
                {
                    silent();
                }
            },
            null, _options.HeartbeatInterval, _options.HeartbeatInterval);

    /// <summary>
    /// Renews the leases the worker lists, tells it about cancelled and lost ones, frees the slots of
    /// tasks it no longer lists, and records the heartbeat. While Redis is unreachable the session stays:
    /// hanging up would only make the worker reconnect into the same outage.
    /// </summary>
    public Task HeartbeatAsync(WorkerSession session, IReadOnlyList<RunningLease> running, CancellationToken cancellationToken) =>
        HeartbeatAsync(session, running, [], cancellationToken);

    /// <summary>
    /// As above, with the tasks the worker lists as stuck (their lease is lost, their handler has not returned):
    /// their slots count against its credit until a heartbeat no longer lists them.
    /// </summary>
    public async Task HeartbeatAsync(
        WorkerSession session, IReadOnlyList<RunningLease> running, IReadOnlyCollection<string> stuck, CancellationToken cancellationToken)
    {
        try
        {
            await RenewListedAsync(session, running, stuck, cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            Log.HeartbeatFailed(logger, ex, session.WorkerId);
        }
    }

    /// <summary>
    /// Sends the reports to Redis (batched with others by the outcome batcher) in order, now; the task
    /// completes once Redis has settled them all and their slots are free, and never faults. While Redis is
    /// unreachable a report is tried again until its lease would run out (the lease as this session holds it:
    /// its last renewal plus the lease duration); a report of a lease the session does not hold is tried once.
    /// </summary>
    public Task SettleAsync(WorkerSession session, WorkerReports reports)
    {
        var pending = new List<(TaskId Id, string Token, Task<TransitionResult> Outcome)>(reports.Completed.Count + reports.Failed.Count + reports.Released.Count);
        foreach (var completion in reports.Completed)
        {
            var held = session.Find(completion.Id, completion.Token);
            pending.Add((completion.Id, completion.Token, store.CompleteAsync(completion, held, Deadline(held))));
        }

        foreach (var failure in reports.Failed)
        {
            var held = session.Find(failure.Id, failure.Token);
            pending.Add((failure.Id, failure.Token, store.FailAsync(failure, held, Deadline(held))));
        }

        foreach (var release in reports.Released)
        {
            pending.Add((release.Id, release.Token, store.ReleaseAsync(release, Deadline(session.Find(release.Id, release.Token)))));
        }

        return pending.Count == 0 ? Task.CompletedTask : FreeSettledAsync(session, pending);
    }

    private DateTimeOffset? Deadline(InFlightTask? held) => held is null ? null : held.RenewedAt + _options.LeaseDuration;

    /// <summary>The worker is shutting down: it gets no new work.</summary>
    public void Drain(WorkerSession session)
    {
        session.Draining = true;
        Log.WorkerDraining(logger, session.WorkerId, session.Busy);
    }

    /// <summary>
    /// Ends the session: no more work, and the leases it held end after the disconnect grace unless the
    /// worker reconnects and renews them. A broker going away leaves leases alone: the worker re-attaches
    /// them on another broker.
    /// </summary>
    public async Task CloseAsync(WorkerSession session, string reason)
    {
        sessions.Remove(session);
        var held = session.Close();
        Log.WorkerDisconnected(logger, session.WorkerId, reason, held.Count);
        try
        {
            if (held.Count > 0 && !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                foreach (var group in held.GroupBy(t => t.Id.Queue, StringComparer.Ordinal))
                {
                    await store.ShortenLeasesAsync(group.Key, [.. group.Select(t => new LeaseRef(t.Id, t.Token))], _options.DisconnectGrace, CancellationToken.None);
                }
            }

            await store.HeartbeatAsync(new WorkerHeartbeat(
                session.WorkerId, identity.BrokerId, session.Queues, session.Concurrency, 0, session.TakeCompletedCount(), Connected: false, time.GetUtcNow()));
        }
        catch (Exception ex)
        {
            Log.SessionEndFailed(logger, ex, session.WorkerId);
        }
    }

    /// <summary>Renews the leases a reconnecting worker still holds; returns the ids it lost meanwhile.</summary>
    private async Task<List<string>> ReattachAsync(WorkerSession session, IReadOnlyList<RunningLease> running, CancellationToken cancellationToken)
    {
        var lost = new List<string>();
        var leases = new List<LeaseRef>(running.Count);
        foreach (var task in running)
        {
            if (TaskId.TryParse(task.TaskId, out var id))
            {
                leases.Add(new LeaseRef(id.Value, task.Token));
            }
            else
            {
                lost.Add(task.TaskId);
            }
        }

        var now = time.GetUtcNow();
        foreach (var (lease, result) in await RenewAsync(leases, cancellationToken))
        {
            if (result is TransitionResult.Ok or TransitionResult.CancelRequested)
            {
                session.Adopt(lease.Id, lease.Token, now);
            }
            else
            {
                lost.Add(lease.Id.ToString());
            }
        }

        return lost;
    }

    private async Task RenewListedAsync(
        WorkerSession session, IReadOnlyList<RunningLease> running, IReadOnlyCollection<string> stuck, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var listed = new HashSet<TaskId>();
        var leases = new List<LeaseRef>(running.Count);
        foreach (var task in running)
        {
            if (TaskId.TryParse(task.TaskId, out var id))
            {
                listed.Add(id.Value);
                leases.Add(new LeaseRef(id.Value, task.Token));
            }
        }

        var stuckIds = new List<TaskId>(stuck.Count);
        foreach (var taskId in stuck)
        {
            if (TaskId.TryParse(taskId, out var id))
            {
                stuckIds.Add(id.Value);
            }
        }

        var freed = session.UpdateStuck(stuckIds, listed);
        var renewals = await RenewAsync(leases, cancellationToken);
        session.Renewed(renewals.Where(r => r.Result is TransitionResult.Ok or TransitionResult.CancelRequested).Select(r => r.Lease), now);
        foreach (var (lease, result) in renewals)
        {
            switch (result)
            {
                case TransitionResult.TimedOut:
                    // Its handler ignored the cancellation: the slot stays taken until the worker says it returned.
                    session.MarkStuck(lease.Id);
                    Log.ExecutionTimedOut(logger, session.WorkerId, lease.Id);
                    session.SendLeaseLost(lease.Id.ToString(), lease.Token, LeaseLostReasons.Timeout);
                    break;
                case TransitionResult.CancelRequested:
                    session.SendCancel(lease.Id.ToString());
                    break;
                case TransitionResult.StaleLease or TransitionResult.NotFound:
                    // About the lease this heartbeat listed: after a freeze it may be an older one than the session
                    // holds now (its task reclaimed and handed to this worker again), which stays untouched.
                    if (session.Release(lease.Id, lease.Token))
                    {
                        dispatcher.NotifyCredit(session);
                    }

                    session.SendLeaseLost(lease.Id.ToString(), lease.Token, "the lease expired or moved on");
                    break;
                default:
                    break;
            }
        }

        // Tasks sent well before this heartbeat that the worker does not list: it does not have them.
        // Free their slots; their leases run out and the reaper retries them.
        if (session.ForgetUnlisted(listed, now - (_options.HeartbeatInterval * 1.5)).Count > 0 || freed)
        {
            dispatcher.NotifyCredit(session);
        }

        await RecordHeartbeatAsync(session, connected: true);
    }

    /// <summary>The one lease renewal, for re-attach and heartbeats: one script call per queue, results per lease.</summary>
    private async Task<List<(LeaseRef Lease, TransitionResult Result)>> RenewAsync(List<LeaseRef> leases, CancellationToken cancellationToken)
    {
        var results = new List<(LeaseRef, TransitionResult)>(leases.Count);
        foreach (var group in leases.GroupBy(l => l.Id.Queue, StringComparer.Ordinal))
        {
            var refs = group.ToList();
            var renewed = await store.RenewAsync(group.Key, refs, _options.LeaseDuration, _options.ExecutionTimeoutGrace, cancellationToken);
            for (var i = 0; i < refs.Count; i++)
            {
                results.Add((refs[i], renewed.Results[i]));
            }
        }

        return results;
    }

    private async Task RecordHeartbeatAsync(WorkerSession session, bool connected, DateTimeOffset? connectedAt = null)
    {
        if (connectedAt is null)
        {
            // The binding lives as long as the worker does (and WorkerIdBinding after); OpenAsync made it.
            await store.BindWorkerIdAsync(session.WorkerId, session.Owner, WorkerIdBinding);
        }

        var now = time.GetUtcNow();
        var answer = await store.HeartbeatAsync(new WorkerHeartbeat(
            session.WorkerId, identity.BrokerId, session.Queues, session.Concurrency, session.Busy,
            session.TakeCompletedCount(), connected, now, connectedAt)
        {
            StuckSlots = session.StuckSlots,
            TaskTypes = connectedAt is null ? null : session.TaskTypes,
            RunningTaskIds = session.RunningTaskIds(WorkerRegistry.MaxListedRunning),
            Draining = session.Draining,
            Instance = session.Instance,
        });
        quarantine.Refresh(session, answer.QuarantinedUntil, now);
        if (answer.Draining && !session.Draining)
        {
            // DrainWorker set the flag on some broker and its message did not reach this session (a lost publish, or the
            // worker was between connections then).
            drains.Drain(session);
        }
    }

    /// <summary>The slot is free once Redis agrees, so a worker never holds more leases than slots; wakes dispatch once for all.</summary>
    private async Task FreeSettledAsync(WorkerSession session, List<(TaskId Id, string Token, Task<TransitionResult> Outcome)> pending)
    {
        await Task.WhenAll(pending.Select(p => (Task)p.Outcome)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var freed = false;
        foreach (var (id, token, outcome) in pending)
        {
            freed |= session.Release(id, token);
            // A late report of a task whose lease timed out: its handler returned, the slot is free; its report is stale.
            var wasStuck = session.ClearStuck(id);
            freed |= wasStuck;
            if (!outcome.IsCompletedSuccessfully)
            {
                // Not settled (Redis unreachable until the lease's deadline, or the script refused it; the batcher
                // logged which): the outcome does not count, and the worker hears so. The lease runs out and the task runs again.
                if (!wasStuck)
                {
                    session.SendLeaseLost(id.ToString(), token, LeaseLostReasons.NotSettled);
                }

                continue;
            }

            switch (outcome.Result)
            {
                case TransitionResult.StaleLease or TransitionResult.NotFound:
                    Log.StaleReport(logger, session.WorkerId, id);
                    if (!wasStuck)
                    {
                        session.SendLeaseLost(id.ToString(), token, "the lease is no longer yours");
                    }

                    break;
                case TransitionResult.Ok or TransitionResult.Retrying or TransitionResult.DeadLettered:
                    session.CountCompleted();
                    break;
                default:
                    break;
            }
        }

        if (freed)
        {
            dispatcher.NotifyCredit(session);
        }
    }
}
