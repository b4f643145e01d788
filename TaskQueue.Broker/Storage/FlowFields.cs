namespace TaskQueue.Broker.Storage;

/// <summary>The fields of a queue's flow settings hash (<see cref="RedisKeys.Flow"/>), as Scripts/lib/flow.lua names them.</summary>
public static class FlowFields
{
    /// <summary>"1" while the queue is paused: its claims lease nothing, its submits are stored.</summary>
    public const string Paused = "paused";

    /// <summary>The most tasks of the queue leased at once, across every worker and broker.</summary>
    public const string Concurrency = "concurrency";

    /// <summary>The queue's token bucket: tasks started per second.</summary>
    public const string Rate = "rate";

    /// <summary>The queue's token bucket: the most tokens it holds (starts in a burst).</summary>
    public const string Burst = "burst";

    /// <summary>The default most tasks of one group leased at once.</summary>
    public const string GroupConcurrency = "group_concurrency";

    /// <summary>The default token bucket of each group: tasks started per second.</summary>
    public const string GroupRate = "group_rate";

    /// <summary>The default token bucket of each group: the most tokens it holds.</summary>
    public const string GroupBurst = "group_burst";

    /// <summary>"1" while a claim waits for a lease of the queue to end (a concurrency limit held work back).</summary>
    public const string Held = "held";

    /// <summary>The settings fields, in the order Scripts/readflow.lua returns them.</summary>
    public static IReadOnlyList<string> Settings { get; } = [Paused, Concurrency, Rate, Burst, GroupConcurrency, GroupRate, GroupBurst];
}
