using System.ComponentModel.DataAnnotations;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Storage;

/// <summary>Limits and policies of the Redis store (configuration section "TaskQueue:Store").</summary>
public sealed class TaskStoreOptions
{
    public const string SectionName = "TaskQueue:Store";

    /// <summary>The longest <see cref="AckTimeout"/>: below the Redis client's 5 s command timeout.</summary>
    public static readonly TimeSpan MaxAckTimeout = TimeSpan.FromSeconds(4);

    /// <summary>How long a finished task (completed, cancelled, expired) stays readable.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    [Range(1, 10_000_000)]
    public int DeadLetterMaxCount { get; set; } = 10_000;

    public TimeSpan DeadLetterMaxAge { get; set; } = TimeSpan.FromDays(90);

    [Range(0, 64 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The largest result a task may return: a larger one fails the attempt as non-retryable, and nothing is
    /// stored (workers are told the limit and do not send one).
    /// </summary>
    [Range(1, ProtocolLimits.MaxMessageBytes)]
    public int MaxResultBytes { get; set; } = 1024 * 1024;

    [Range(1, 1000)]
    public int DefaultMaxAttempts { get; set; } = 10;

    public TimeSpan BackoffInitial { get; set; } = BackoffPolicy.Default.Initial;

    [Range(1.0, 100.0)]
    public double BackoffMultiplier { get; set; } = BackoffPolicy.Default.Multiplier;

    public TimeSpan BackoffMax { get; set; } = BackoffPolicy.Default.Max;

    [Range(0.0, 1.0)]
    public double BackoffJitter { get; set; } = BackoffPolicy.Default.Jitter;

    /// <summary>How many due scheduled tasks one claim or promoter pass moves at most (Asynq moves 100).</summary>
    [Range(1, 10_000)]
    public int PromoteBatchSize { get; set; } = 100;

    /// <summary>
    /// The starvation bound: a lane (priority and task type) whose oldest waiting task has waited this long is
    /// served before priority order, one task per claim, overdue lanes taking turns; so under any overload of
    /// higher priorities a task starts within this wait plus a few claims (README, "Priorities").
    /// Zero: strict priority.
    /// </summary>
    public TimeSpan PriorityMaxWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The largest checkpoint a worker may store with a task (TaskContext.CheckpointAsync); a larger one is
    /// refused with a clear error and nothing is stored. A checkpoint lives in the task's hash and travels with
    /// every later assignment: keep it small (a cursor, an offset), not the work itself.
    /// </summary>
    [Range(1, 16 * 1024 * 1024)]
    public int MaxCheckpointBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// How long an empty queue (nothing ready, leased, scheduled, dead or kept finished, no open Wait or Watch, no
    /// task submitted) keeps its registry entry and leftover keys (lanes, counters); then it is forgotten and stops
    /// counting against <c>TaskQueue:Limits:MaxQueues</c>. A later submit registers it again.
    /// </summary>
    public TimeSpan QueueIdleExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How many replicas must hold a submit or a completion before the broker answers OK: after the batch's script the
    /// broker sends <c>WAIT AckReplicas AckTimeout</c> (<c>WAITAOF 1 AckReplicas AckTimeout</c> on Redis 7.2+ with
    /// AOF) on the same connection. Fewer within <see cref="AckTimeout"/>: a submit answers UNAVAILABLE naming the
    /// stored tasks, a completion is not counted settled (README, "Replicas and failover"). 0: no wait, and a failover
    /// may lose what the primary had not yet sent to its replica.
    /// </summary>
    [Range(0, 16)]
    public int AckReplicas { get; set; }

    /// <summary>How long a write waits for <see cref="AckReplicas"/> replicas; the connection it waits on waits with it.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    public BackoffPolicy Backoff => new(BackoffInitial, BackoffMultiplier, BackoffMax, BackoffJitter);

    public void Validate()
    {
        Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);
        Backoff.Validate();
        if (Retention < TimeSpan.Zero || DeadLetterMaxAge <= TimeSpan.Zero || PriorityMaxWait < TimeSpan.Zero)
        {
            throw new ValidationException("Retention and PriorityMaxWait must not be negative and DeadLetterMaxAge must be positive.");
        }

        if (QueueIdleExpiry < TimeSpan.FromMilliseconds(1))
        {
            throw new ValidationException("QueueIdleExpiry must be at least 1 ms (an empty queue is forgotten that long after a visit found it empty).");
        }

        if (AckReplicas > 0 && (AckTimeout < TimeSpan.FromMilliseconds(1) || AckTimeout > MaxAckTimeout))
        {
            throw new ValidationException(
                $"AckTimeout must be between 1 ms and {MaxAckTimeout.TotalSeconds:0} s when AckReplicas is set (WAIT 0 would wait for ever, and a longer " +
                "wait than the Redis client's 5 s command timeout would fail as Redis unavailable).");
        }
    }
}

/// <summary>
/// An offset added to Redis's clock in every script. Zero in production; tests move it to jump time
/// (lease expiry, backoff, expiry) without waiting.
/// </summary>
public sealed class RedisClockShift
{
    public TimeSpan Value { get; set; }
}
