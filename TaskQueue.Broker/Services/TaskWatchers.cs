using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// The Watch calls on this broker, by task: each has a signal that is set when the store announces the task
/// changed (<see cref="ClusterEvents"/> hears <see cref="RedisKeys.ChangedChannel"/>). Only a wake-up: the watch
/// re-reads the task, so a signal set twice before it looks is one read, and a lost one is found by its recheck.
/// </summary>
internal sealed class TaskWatchers
{
    private readonly Dictionary<TaskId, List<AsyncSignal>> _watches = [];
    private readonly Lock _gate = new();

    /// <summary>Starts watching the task: the returned watch's signal is set on every change; dispose it when done.</summary>
    public Watch Start(TaskId id)
    {
        var watch = new Watch(this, id);
        lock (_gate)
        {
            if (!_watches.TryGetValue(id, out var signals))
            {
                _watches[id] = signals = [];
            }

            signals.Add(watch.Changed);
        }

        return watch;
    }

    /// <summary>The store announced the task changed: wakes its watches.</summary>
    public void OnChanged(TaskId id)
    {
        AsyncSignal[] signals;
        lock (_gate)
        {
            if (!_watches.TryGetValue(id, out var list))
            {
                return;
            }

            signals = [.. list];
        }

        foreach (var signal in signals)
        {
            signal.Set();
        }
    }

    private void Stop(Watch watch)
    {
        lock (_gate)
        {
            if (_watches.TryGetValue(watch.Id, out var signals) && signals.Remove(watch.Changed) && signals.Count == 0)
            {
                _watches.Remove(watch.Id);
            }
        }
    }

    /// <summary>One Watch call's registration.</summary>
    public sealed class Watch(TaskWatchers owner, TaskId id) : IDisposable
    {
        private int _stopped;

        public TaskId Id { get; } = id;

        /// <summary>Set when the task changed since the watch last waited on it.</summary>
        public AsyncSignal Changed { get; } = new();

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 0)
            {
                owner.Stop(this);
            }
        }
    }
}
