using System.Collections.Concurrent;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// The Wait calls on this broker, by task: each waits on a task that completes when the store announces
/// the task finished (<see cref="ClusterEvents"/> hears it). Only a wake-up: the caller re-reads the task.
/// </summary>
internal sealed class TaskWaiters
{
    private readonly ConcurrentDictionary<TaskId, TaskCompletionSource> _waiters = new();

    /// <summary>A task that completes when the store publishes the task as finished.</summary>
    public Task WhenFinished(TaskId id) =>
        _waiters.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>The caller stopped waiting: drops the waiter unless it already fired or was replaced.</summary>
    public void Forget(TaskId id, Task waiter)
    {
        if (_waiters.TryGetValue(id, out var source) && source.Task == waiter && !waiter.IsCompleted)
        {
            _waiters.TryRemove(new KeyValuePair<TaskId, TaskCompletionSource>(id, source));
        }
    }

    /// <summary>The store announced the task finished: wakes its waiters.</summary>
    public void Finished(TaskId id)
    {
        if (_waiters.TryRemove(id, out var source))
        {
            source.TrySetResult();
        }
    }
}
