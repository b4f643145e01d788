namespace TaskQueue.Broker.Storage;

/// <summary>
/// Every Redis key name TaskQueue uses. The keys of one queue share the hash tag <c>{queue}</c>, so each
/// script touches a single Redis Cluster slot. The Lua side (Scripts/lib/common.lua) appends the same
/// suffixes to <see cref="QueuePrefix"/>.
/// </summary>
public static class RedisKeys
{
    /// <summary>The set of queue names that have ever received a task (read by the background loops).</summary>
    public const string Queues = "tq:queues";

    /// <summary>The worker registry: one hash per worker, shared by every broker.</summary>
    public static string Worker(string workerId) => "tq:worker:" + workerId;

    /// <summary>The set of worker ids known to any broker.</summary>
    public const string Workers = "tq:workers";

    public static string QueuePrefix(string queue) => "tq:{" + queue + "}:";

    public static string Task(TaskId id) => QueuePrefix(id.Queue) + "t:" + id.LocalId;

    public static string Ready(string queue, int priority) => QueuePrefix(queue) + "ready:" + priority;

    public static string Levels(string queue) => QueuePrefix(queue) + "levels";

    public static string Leases(string queue) => QueuePrefix(queue) + "leases";

    public static string Scheduled(string queue) => QueuePrefix(queue) + "scheduled";

    public static string DeadLetters(string queue) => QueuePrefix(queue) + "dead";

    public static string Stats(string queue) => QueuePrefix(queue) + "stats";

    public static string Idempotency(string queue, string key) => QueuePrefix(queue) + "idem:" + key;
}
