namespace TaskQueue.Broker.Storage;

/// <summary>The fields of a worker's hash (<see cref="RedisKeys.Worker"/>), written and read by <see cref="WorkerRegistry"/>.</summary>
public static class WorkerFields
{
    /// <summary>The broker the worker is connected to.</summary>
    public const string Broker = "broker";

    /// <summary>The queues it consumes, comma-separated.</summary>
    public const string Queues = "queues";

    /// <summary>Its execution slots.</summary>
    public const string Slots = "slots";

    /// <summary>Slots running a task at its last heartbeat.</summary>
    public const string Busy = "busy";

    /// <summary>Unix ms of its last heartbeat.</summary>
    public const string LastHeartbeat = "last_heartbeat";

    /// <summary>1 while its stream is open, 0 once it closed.</summary>
    public const string Connected = "connected";

    /// <summary>Unix ms when its current connection opened.</summary>
    public const string ConnectedAt = "connected_at";

    /// <summary>Tasks it completed, in total.</summary>
    public const string Completed = "completed";

    /// <summary>Its run of consecutive lease expiries (reset when it completes something).</summary>
    public const string ExpiredStreak = "expired_streak";

    /// <summary>Unix ms until which it gets no work.</summary>
    public const string QuarantinedUntil = "quarantined_until";

    /// <summary>Slots held by handlers whose lease was lost (timed out) and that have not returned, at its last heartbeat.</summary>
    public const string Stuck = "stuck";

    /// <summary>The task types its Hello listed, comma-separated; empty: every type. Written when it connects.</summary>
    public const string Types = "types";

    /// <summary>
    /// The tasks its session holds leased at its last heartbeat ("queue:id", comma-separated), the first
    /// <see cref="WorkerRegistry.MaxListedRunning"/> of them; <see cref="Busy"/> counts them all.
    /// </summary>
    public const string Running = "running";

    /// <summary>
    /// 1 once an operator drained it (DrainWorker) or it said it is draining; cleared when it connects not draining as another
    /// process (another <see cref="Instance"/>, or a worker that names none).
    /// </summary>
    public const string Draining = "draining";

    /// <summary>The worker process its Hello named (the same across its reconnects), written when it connects.</summary>
    public const string Instance = "instance";
}
