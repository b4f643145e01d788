using System.ComponentModel.DataAnnotations;

namespace TaskQueue.Broker.Limits;

/// <summary>
/// Abuse limits (configuration section "TaskQueue:Limits"): how much one caller can make the broker hold or do.
/// The defaults are far above what the benchmarks reach, so only a runaway or hostile caller meets them.
/// </summary>
public sealed class LimitOptions : IValidatableObject
{
    public const string SectionName = "TaskQueue:Limits";

    /// <summary>
    /// The most queues the broker's Redis holds. Every queue costs the reaper and the promoter a script call
    /// per pass (every 500 ms and 1 s), so names without limit are a way to load Redis; a submit or a worker's
    /// hello that would create one more is refused (RESOURCE_EXHAUSTED). A queue that exists is never refused.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxQueues { get; set; } = 1000;

    /// <summary>
    /// The most Wait calls open at once on one HTTP/2 connection. A Wait holds a call, a timer and a waiter entry
    /// for up to <see cref="BrokerOptions.MaxWait"/>. 100 is Kestrel's default limit of concurrent streams per
    /// connection (Kestrel:Limits:Http2:MaxStreamsPerConnection), so a client Kestrel admits never meets it;
    /// it keeps one connection from holding more Waits than that where the stream limit is raised.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxWaitsPerConnection { get; set; } = 100;

    /// <summary>
    /// The most Wait calls open at once on this broker, so many connections cannot together hold its memory
    /// either. An open Wait measured about 32 KB of broker memory (10,000 held: 91 → 409 MiB RSS), so 5,000
    /// bound them to about 160 MB; clients wait with far fewer (the CLI's load command: 64).
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxWaits { get; set; } = 5_000;

    /// <summary>
    /// How many more tasks than its slots a worker may list as running in a hello: an honest worker also lists
    /// tasks whose outcomes it wrote shortly before a connection broke and offers again (the worker library keeps
    /// up to 4,096 of them: TaskQueue.Worker's ResendBuffer.Capacity). More is refused. A heartbeat gets no
    /// allowance: it lists at most one running task per slot, or it is refused and the stream ends.
    /// </summary>
    public const int UnsettledReportAllowance = 4096;

    /// <summary>The most slots a worker may declare in its hello (its concurrency).</summary>
    [Range(1, 1_000_000)]
    public int MaxWorkerConcurrency { get; set; } = 10_000;

    /// <summary>
    /// Tasks per second one identity may submit, sustained (a token bucket: a batch of 500 takes 500 tokens).
    /// 100,000/s is twice what a two-core machine's broker and Redis can store.
    /// </summary>
    [Range(1, 10_000_000)]
    public int SubmitRate { get; set; } = 100_000;

    /// <summary>Tasks one identity may submit at once above the rate (the bucket's size); at least one batch.</summary>
    [Range(1, 10_000_000)]
    public int SubmitBurst { get; set; } = 100_000;

    /// <summary>
    /// The most groups of one queue with limits of their own (SetGroupLimits): the overrides live in one hash that
    /// GetQueueFlow returns whole, so a caller cannot grow it without bound; a new one past it is refused
    /// (RESOURCE_EXHAUSTED). Groups without overrides cost nothing here (the queue's group defaults apply).
    /// </summary>
    [Range(1, 100_000)]
    public int MaxGroupOverrides { get; set; } = 1000;

    /// <summary>Rates for named identities ("key:billing", "jwt:svc-42", "anonymous"), replacing the defaults for them.</summary>
    public List<IdentitySubmitRate> Identities { get; set; } = [];

    /// <summary>The submit rate and burst of <paramref name="identity"/>.</summary>
    public (int Rate, int Burst) SubmitRateOf(string identity) =>
        Identities.Find(i => string.Equals(i.Identity, identity, StringComparison.Ordinal)) is { } own
            ? (own.SubmitRate ?? SubmitRate, own.SubmitBurst ?? SubmitBurst)
            : (SubmitRate, SubmitBurst);

    /// <summary>Checks every setting; throws <see cref="ValidationException"/> naming the first one out of bounds.</summary>
    public void Validate() => Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);

    /// <summary>The rules between settings that attributes cannot state.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxWaitsPerConnection > MaxWaits)
        {
            yield return new ValidationResult("MaxWaitsPerConnection must not exceed MaxWaits.", [nameof(MaxWaitsPerConnection)]);
        }

        foreach (var (own, index) in Identities.Select((own, index) => (own, index)))
        {
            if (string.IsNullOrWhiteSpace(own.Identity))
            {
                yield return new ValidationResult($"Identities:{index}:Identity is required.", [nameof(Identities)]);
            }

            if (own.SubmitRate is < 1 || own.SubmitBurst is < 1)
            {
                yield return new ValidationResult($"Identities:{index} ({own.Identity}): SubmitRate and SubmitBurst must be at least 1.", [nameof(Identities)]);
            }
        }
    }
}

/// <summary>The submit rate of one identity (configuration "TaskQueue:Limits:Identities:&lt;n&gt;").</summary>
public sealed class IdentitySubmitRate
{
    /// <summary>The caller's identity as the broker names it: "key:&lt;name&gt;", "jwt:&lt;sub&gt;", "cert:&lt;name&gt;" or "anonymous".</summary>
    public string Identity { get; set; } = "";

    /// <summary>Tasks per second, sustained; unset: <see cref="LimitOptions.SubmitRate"/>.</summary>
    public int? SubmitRate { get; set; }

    /// <summary>The bucket's size; unset: <see cref="LimitOptions.SubmitBurst"/>.</summary>
    public int? SubmitBurst { get; set; }
}
