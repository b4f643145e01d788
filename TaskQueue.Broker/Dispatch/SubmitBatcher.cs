using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// Coalesces submits per queue: while one enqueue script is in Redis the next submits gather, so under
/// concurrent load one script call stores many tasks, and when idle a submit waits for nothing. A
/// submission is never split between script calls, and every task of it is validated before any joins,
/// so a call that fails stored nothing and one caller's bad task never fails another's. The lanes run
/// outside the callers' requests, so Redis command tracing does not keep each request's commands.
/// The queue's dispatchers are woken by the lane itself the moment the script has stored a batch, before
/// the callers are answered: the claim then races the answers instead of waiting for a caller's thread.
/// </summary>
internal sealed class SubmitBatcher : IAsyncDisposable
{
    private const int MaxBatch = 500;

    private readonly RedisTaskStore _store;
    private readonly IReadyAnnouncer _ready;
    private readonly ILogger _logger;
    private readonly QueueLanes<Pending> _lanes;

    public SubmitBatcher(RedisTaskStore store, IReadyAnnouncer ready, ILogger<SubmitBatcher> logger)
    {
        _store = store;
        _ready = ready;
        _logger = logger;
        // Whole submissions only, up to MaxBatch tasks (a larger submission goes alone).
        _lanes = new QueueLanes<Pending>(StoreBatchAsync, pending => pending.Tasks.Count, MaxBatch);
    }

    /// <summary>
    /// Validates every task (throwing <see cref="TaskValidationException"/>), then enqueues them; results in input order.
    /// Every queue that stored tasks has been announced ready (<see cref="IReadyAnnouncer"/>) when this returns.
    /// </summary>
    public async Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(IReadOnlyList<NewTask> tasks, CancellationToken cancellationToken)
    {
        foreach (var task in tasks)
        {
            TaskValidation.Validate(task, _store.Options);
        }

        cancellationToken.ThrowIfCancellationRequested();
        // Before a lane exists for a queue: one past the cap (LimitExceededException) costs the broker nothing.
        await _store.RegisterQueuesAsync(tasks.Select(t => t.Queue));
        var results = new EnqueueResult[tasks.Count];
        var byQueue = Enumerable.Range(0, tasks.Count).GroupBy(i => tasks[i].Queue, StringComparer.Ordinal).ToList();
        await Task.WhenAll(byQueue.Select(async group =>
        {
            var indexes = group.ToArray();
            var pending = new Pending([.. indexes.Select(i => tasks[i])]);
            _lanes.Post(group.Key, pending);
            var stored = await pending.Result.Task;
            for (var j = 0; j < indexes.Length; j++)
            {
                results[indexes[j]] = stored[j];
            }
        }));
        return results;
    }

    public ValueTask DisposeAsync() => _lanes.DisposeAsync();

    private async Task StoreBatchAsync(string queue, List<Pending> batch)
    {
        try
        {
            var results = await _store.EnqueueBatchAsync([.. batch.SelectMany(p => p.Tasks)]);
            _ready.PublishReady(queue);
            var offset = 0;
            foreach (var pending in batch)
            {
                pending.Result.TrySetResult([.. results.Skip(offset).Take(pending.Tasks.Count)]);
                offset += pending.Tasks.Count;
            }
        }
        catch (ReplicaAckException shortfall)
        {
            // The primary holds the tasks (workers may take them): announced, but no caller hears OK. Each gets its own tasks' ids.
            Log.ReplicaAcksShort(_logger, shortfall.Operation, shortfall.Stored.Count, queue, shortfall.Acks.ToString(), shortfall.Timeout.TotalMilliseconds);
            _ready.PublishReady(queue);
            var offset = 0;
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(shortfall.For([.. shortfall.Stored.Skip(offset).Take(pending.Tasks.Count)]));
                offset += pending.Tasks.Count;
            }
        }
        catch (Exception ex)
        {
            Log.EnqueueFailed(_logger, ex, queue, batch.Count);
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(ex);
            }
        }
    }

    /// <summary>One caller's tasks for one queue.</summary>
    private sealed record Pending(IReadOnlyList<NewTask> Tasks)
    {
        public TaskCompletionSource<IReadOnlyList<EnqueueResult>> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
