using System.ComponentModel.DataAnnotations;

namespace TaskQueue.Broker;

/// <summary>Dispatch, lease and background-loop settings (configuration section "TaskQueue:Broker").</summary>
public sealed class BrokerOptions : IValidatableObject
{
    public const string SectionName = "TaskQueue:Broker";

    /// <summary>The default of <see cref="ExecutionTimeoutGrace"/>.</summary>
    public static readonly TimeSpan DefaultExecutionTimeoutGrace = TimeSpan.FromSeconds(5);

    /// <summary>How long a lease lasts without renewal; workers heartbeat every third of it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A task's attempt may hold its lease this long past its execution timeout (the worker cancels the handler at
    /// the timeout and reports it): later, the broker stops renewing the lease, the attempt fails ("timed out") and
    /// the task is retried elsewhere, even when its handler ignores its cancellation token.
    /// </summary>
    public TimeSpan ExecutionTimeoutGrace { get; set; } = DefaultExecutionTimeoutGrace;

    /// <summary>After a worker's stream breaks, its leases end this soon unless it reconnects and renews them.</summary>
    public TimeSpan DisconnectGrace { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the reaper looks for expired leases.</summary>
    public TimeSpan ReapInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The promoter's longest sleep; it wakes earlier when scheduled work falls due.</summary>
    public TimeSpan PromoteInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A safety net for a lost wake-up: an idle dispatcher re-checks its queue this often.</summary>
    public TimeSpan IdleRecheckInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A worker whose leases expired this many times in a row without a completion is quarantined.</summary>
    [Range(1, 1000)]
    public int QuarantineThreshold { get; set; } = 3;

    /// <summary>How long a quarantined worker gets no work before it is trusted again.</summary>
    public TimeSpan QuarantineDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The largest claim for one worker in one script call.</summary>
    [Range(1, 10_000)]
    public int MaxClaimBatch { get; set; } = 256;

    /// <summary>The longest a Wait call may block.</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMinutes(5);

    [Range(1, 1024)]
    public int MaxBatchSubmit { get; set; } = 1000;

    /// <summary>
    /// A report (complete, fail, release) that Redis could not take because it was unreachable is tried again after
    /// this delay, doubling up to <see cref="SettleRetryMaxDelay"/>, until its lease would run out; only then is the
    /// worker told the lease is lost.
    /// </summary>
    public TimeSpan SettleRetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between two tries of an unsettled report.</summary>
    public TimeSpan SettleRetryMaxDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The most reports this broker holds for another try at once (each about 0.5 KB plus its result); past it a
    /// report that could not be settled is given up at once (its lease runs out and the task runs again).
    /// </summary>
    [Range(1, 10_000_000)]
    public int SettleRetryMaxPending { get; set; } = 100_000;

    public TimeSpan HeartbeatInterval => LeaseDuration / 3;

    /// <summary>Silence for this long (no message, no heartbeat) and the broker drops the worker's stream.</summary>
    public TimeSpan WorkerSilenceLimit => HeartbeatInterval * 3;

    /// <summary>Checks every setting (ranges and rules); throws <see cref="ValidationException"/> naming the first one out of bounds.</summary>
    public void Validate() => Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);

    /// <summary>The rules between settings that attributes cannot state.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (LeaseDuration < TimeSpan.FromMilliseconds(300))
        {
            yield return new ValidationResult("LeaseDuration must be at least 300 ms.", [nameof(LeaseDuration)]);
        }

        foreach (var (name, value) in new[]
                 {
                     (nameof(DisconnectGrace), DisconnectGrace), (nameof(ReapInterval), ReapInterval),
                     (nameof(PromoteInterval), PromoteInterval), (nameof(IdleRecheckInterval), IdleRecheckInterval),
                     (nameof(QuarantineDuration), QuarantineDuration), (nameof(MaxWait), MaxWait),
                     (nameof(ExecutionTimeoutGrace), ExecutionTimeoutGrace), (nameof(SettleRetryDelay), SettleRetryDelay),
                 })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return new ValidationResult($"{name} must be positive.", [name]);
            }
        }

        if (SettleRetryMaxDelay < SettleRetryDelay)
        {
            yield return new ValidationResult("SettleRetryMaxDelay must be at least SettleRetryDelay.", [nameof(SettleRetryMaxDelay)]);
        }
    }
}
