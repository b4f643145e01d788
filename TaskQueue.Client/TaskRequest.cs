using System.Text;
using System.Text.Json;

namespace TaskQueue.Client;

/// <summary>A task to submit.</summary>
public sealed record TaskRequest
{
    /// <summary>The queue of a request that names none, and the queue workers serve by default.</summary>
    public const string DefaultQueue = "default";
    /// <summary>The lowest priority (the default).</summary>
    public const int MinPriority = 0;
    /// <summary>The highest priority.</summary>
    public const int MaxPriority = 9;

    /// <summary>The queue to submit to (default <see cref="DefaultQueue"/>).</summary>
    public string Queue { get; init; } = DefaultQueue;

    /// <summary>Selects the worker handler, e.g. "echo".</summary>
    public required string Type { get; init; }

    /// <summary>The handler's input, as bytes (see <see cref="FromText"/> and <see cref="FromJson"/>).</summary>
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>0 (lowest, default) to 9 (highest).</summary>
    public int Priority { get; init; }

    /// <summary>Attempts before dead-lettering; 0 means the broker's default.</summary>
    public int MaxAttempts { get; init; }

    /// <summary>Run no earlier than this long after submission.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>Run no earlier than this time.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>How long one attempt may run before the worker cancels it; null for no limit.</summary>
    public TimeSpan? ExecutionTimeout { get; init; }

    /// <summary>Drop the task if it has not started within this time of submission; null for never.</summary>
    public TimeSpan? ExpiresAfter { get; init; }

    /// <summary>Submitting the same key again returns the first task instead of enqueuing another.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>
    /// Unique while not final: while a task with this key in the queue is waiting or running, submitting the key
    /// again creates nothing and returns that task (<see cref="SubmitOutcome.UniqueExisting"/>). Once that task is
    /// final (completed, dead-lettered, cancelled, expired) the key is free. Up to 256 characters; not with
    /// <see cref="DebounceKey"/>.
    /// </summary>
    public string? UniqueKey { get; init; }

    /// <summary>
    /// Debounce: the task starts no earlier than <see cref="DebounceWindow"/> after its last submit. While a task
    /// with this key in the queue still waits (it has not started), submitting the key again replaces that task's
    /// payload and pushes its start back to now + the window (<see cref="SubmitOutcome.Debounced"/>, the same task
    /// id); once it started, a new task is created. Needs <see cref="DebounceWindow"/>; up to 256 characters.
    /// </summary>
    public string? DebounceKey { get; init; }

    /// <summary>With <see cref="DebounceKey"/>: how long the task waits after its last submit (1 ms to 24 hours).</summary>
    public TimeSpan? DebounceWindow { get; init; }

    /// <summary>
    /// Its group (a tenant, a customer, an API key): within a priority level the broker's claims go round-robin
    /// across the groups with ready work, so one group's backlog cannot starve another's, and the queue's group
    /// limits (concurrency, rate) apply to each group. Up to 128 printable characters; null or empty: no group.
    /// </summary>
    public string? Group { get; init; }

    /// <summary>A task of <paramref name="type"/> with <paramref name="payload"/> for <paramref name="queue"/>.</summary>
    public static TaskRequest Create(string type, ReadOnlyMemory<byte> payload, string queue = DefaultQueue) =>
        new() { Type = type, Payload = payload, Queue = queue };

    /// <summary>A task whose payload is <paramref name="payload"/> as UTF-8.</summary>
    public static TaskRequest FromText(string type, string payload, string queue = DefaultQueue) =>
        Create(type, Encoding.UTF8.GetBytes(payload), queue);

    /// <summary>A task whose payload is <paramref name="payload"/> as JSON (web defaults: camelCase).</summary>
    public static TaskRequest FromJson<T>(string type, T payload, string queue = DefaultQueue, JsonSerializerOptions? options = null) =>
        Create(type, JsonSerializer.SerializeToUtf8Bytes(payload, options ?? JsonSerializerOptions.Web), queue);
}
