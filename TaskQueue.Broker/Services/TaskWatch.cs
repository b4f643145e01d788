using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>What a Watch event says happened.</summary>
internal enum TaskWatchEventKind
{
    /// <summary>The first event: the task as it was when the watch began.</summary>
    Snapshot,

    /// <summary>Its state, attempt or worker changed (a final state is the last event).</summary>
    StateChanged,

    /// <summary>Its running attempt reported progress (or stored a checkpoint with progress).</summary>
    Progress,
}

/// <summary>The task is gone (never existed, or its retention ended while it was watched).</summary>
internal sealed class TaskGoneException(TaskId id) : Exception($"Task {id} does not exist (or its retention ended).")
{
    public TaskId Id { get; } = id;
}

/// <summary>
/// One Watch: registers the task as watched (so the scripts publish its changes, <see cref="RedisKeys.Watchers"/>),
/// sends the task as it is, then re-reads it whenever the store announces a change and sends an event for what
/// changed, until and including a final state. Driven by pub/sub, not polling: the only timer is a recheck every
/// <see cref="Recheck"/> that finds a change whose announcement was lost. A stopping broker ends the watch with
/// <see cref="OperationCanceledException"/> (the edge answers UNAVAILABLE: watch again).
/// </summary>
internal sealed class TaskWatch(RedisTaskStore store, TaskWatchers watchers, IHostApplicationLifetime lifetime, TimeProvider time)
{
    /// <summary>How long a watch waits for an announcement before it reads the task anyway.</summary>
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs the watch, calling <paramref name="send"/> for each event in order, until the task is final. Throws
    /// <see cref="TaskGoneException"/> when there is no such task, and <see cref="OperationCanceledException"/> when
    /// the call ends or the broker stops.
    /// </summary>
    public async Task RunAsync(TaskId id, Func<TaskWatchEventKind, TaskSnapshot, Task> send, CancellationToken cancellationToken)
    {
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        var token = ended.Token;
        using var watch = watchers.Start(id);
        // Registered before the first read: a change in between is announced, and the loop reads it.
        await store.RegisterWatchAsync(id);
        try
        {
            var last = await store.GetWatchedAsync(id, token) ?? throw new TaskGoneException(id);
            await send(TaskWatchEventKind.Snapshot, last);
            while (!last.IsFinal)
            {
                await watch.Changed.WaitAsync(Recheck, token, time);
                var current = await store.GetWatchedAsync(id, token) ?? throw new TaskGoneException(id);
                if (Classify(last, current) is { } kind)
                {
                    await send(kind, current);
                    last = current;
                }
            }
        }
        finally
        {
            await store.UnregisterWatchAsync(id);
        }
    }

    /// <summary>What changed between two reads of a task; null when nothing a watcher sees did.</summary>
    public static TaskWatchEventKind? Classify(TaskSnapshot before, TaskSnapshot after)
    {
        if (before.State != after.State || before.Attempt != after.Attempt || before.StartedAt != after.StartedAt
            || !string.Equals(before.WorkerId, after.WorkerId, StringComparison.Ordinal))
        {
            return TaskWatchEventKind.StateChanged;
        }

        if (before.ProgressAt != after.ProgressAt || before.ProgressPercent != after.ProgressPercent
            || !string.Equals(before.ProgressMessage, after.ProgressMessage, StringComparison.Ordinal))
        {
            return TaskWatchEventKind.Progress;
        }

        return null;
    }
}
