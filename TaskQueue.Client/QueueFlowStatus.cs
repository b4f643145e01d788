namespace TaskQueue.Client;

/// <summary>
/// A queue's limits (<see cref="TaskQueueClient.SetQueueLimitsAsync"/>); null (or 0) is no limit. The group limits are
/// every group's default; <see cref="TaskQueueClient.SetGroupLimitsAsync"/> overrides them for one group.
/// </summary>
public sealed record QueueLimitSettings
{
    /// <summary>The most tasks of the queue leased (running) at once, across every worker and broker: 1 to 1,000,000.</summary>
    public int? Concurrency { get; init; }

    /// <summary>The queue's rate limit: tasks started per second, 0.001 to 1,000,000 (a token bucket in Redis).</summary>
    public double? Rate { get; init; }

    /// <summary>The rate's bucket: the most tasks started at once after a quiet spell (default one second's worth, at least 1).</summary>
    public int? Burst { get; init; }

    /// <summary>The default most tasks of one group leased at once.</summary>
    public int? GroupConcurrency { get; init; }

    /// <summary>The default rate limit of each group, in tasks started per second.</summary>
    public double? GroupRate { get; init; }

    /// <summary>The default bucket size of each group's rate.</summary>
    public int? GroupBurst { get; init; }
}

/// <summary>One group's overrides of its queue's group limits; null (or 0) where the queue's default applies.</summary>
public sealed record GroupLimitSettings
{
    /// <summary>The most tasks of the group leased at once.</summary>
    public int? Concurrency { get; init; }

    /// <summary>The group's rate limit, in tasks started per second.</summary>
    public double? Rate { get; init; }

    /// <summary>The group's bucket size.</summary>
    public int? Burst { get; init; }
}

/// <summary>A queue's flow control (<see cref="TaskQueueClient.GetQueueFlowAsync"/>), as one read of Redis saw it.</summary>
public sealed record QueueFlowStatus
{
    /// <summary>The queue's name.</summary>
    public required string Queue { get; init; }

    /// <summary>The queue is paused: it accepts submits and starts nothing.</summary>
    public bool Paused { get; init; }

    /// <summary>The queue's limits.</summary>
    public QueueLimitSettings Limits { get; init; } = new();

    /// <summary>Groups with overrides of the group limits.</summary>
    public IReadOnlyDictionary<string, GroupLimitSettings> GroupOverrides { get; init; } = new Dictionary<string, GroupLimitSettings>();

    /// <summary>Tasks of the queue leased now: what its concurrency limit counts.</summary>
    public long Leased { get; init; }

    /// <summary>The rate limit's tokens now (tasks that may start at once); null without a rate.</summary>
    public double? Tokens { get; init; }
}
