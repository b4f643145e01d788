using System.Collections.Concurrent;
using System.Threading.Channels;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// Coalesces submits per queue: while one enqueue script is in Redis the next submits gather, so under
/// concurrent load one script call stores many tasks, and when idle a submit waits for nothing. A
/// submission is never split between script calls, and every task of it is validated before any joins,
/// so a call that fails stored nothing and one caller's bad task never fails another's. The lanes run
/// outside the callers' requests, so Redis command tracing does not keep each request's commands.
/// </summary>
internal sealed partial class SubmitBatcher(RedisTaskStore store, ILogger<SubmitBatcher> logger) : IAsyncDisposable
{
    private const int MaxBatch = 500;

    private readonly RedisTaskStore _store = store;
    private readonly ILogger _logger = logger;
    private readonly ConcurrentDictionary<string, Lane> _lanes = new(StringComparer.Ordinal);

    /// <summary>Validates every task (throwing <see cref="TaskValidationException"/>), then enqueues them; results in input order.</summary>
    public async Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(IReadOnlyList<NewTask> tasks, CancellationToken cancellationToken)
    {
        foreach (var task in tasks)
        {
            TaskValidation.Validate(task, _store.Options);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var results = new EnqueueResult[tasks.Count];
        var byQueue = Enumerable.Range(0, tasks.Count).GroupBy(i => tasks[i].Queue, StringComparer.Ordinal).ToList();
        await Task.WhenAll(byQueue.Select(async group =>
        {
            var indexes = group.ToArray();
            var pending = new Pending([.. indexes.Select(i => tasks[i])]);
            _lanes.GetOrAdd(group.Key, q => new Lane(this, q)).Writer.TryWrite(pending);
            var stored = await pending.Result.Task;
            for (var j = 0; j < indexes.Length; j++)
            {
                results[indexes[j]] = stored[j];
            }
        }));
        return results;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes.Values)
        {
            lane.Writer.TryComplete();
        }

        await Task.WhenAll(_lanes.Values.Select(l => l.Completion));
    }

    /// <summary>One caller's tasks for one queue.</summary>
    private sealed record Pending(IReadOnlyList<NewTask> Tasks)
    {
        public TaskCompletionSource<IReadOnlyList<EnqueueResult>> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Lane
    {
        private readonly SubmitBatcher _owner;
        private readonly string _queue;
        private readonly Channel<Pending> _channel = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

        public Lane(SubmitBatcher owner, string queue)
        {
            _owner = owner;
            _queue = queue;
            // A loop for every caller: it must not run (and trace its Redis calls) inside the request that created it.
            using (ExecutionContext.SuppressFlow())
            {
                Completion = Task.Run(RunAsync);
            }
        }

        public ChannelWriter<Pending> Writer => _channel.Writer;

        public Task Completion { get; }

        private async Task RunAsync()
        {
            var batch = new List<Pending>();
            while (await _channel.Reader.WaitToReadAsync())
            {
                // Whole submissions only, up to MaxBatch tasks (a larger submission goes alone).
                var size = 0;
                while (_channel.Reader.TryPeek(out var next) && (batch.Count == 0 || size + next.Tasks.Count <= MaxBatch)
                       && _channel.Reader.TryRead(out next))
                {
                    batch.Add(next);
                    size += next.Tasks.Count;
                }

                try
                {
                    var results = await _owner._store.EnqueueBatchAsync([.. batch.SelectMany(p => p.Tasks)]);
                    var offset = 0;
                    foreach (var pending in batch)
                    {
                        pending.Result.TrySetResult([.. results.Skip(offset).Take(pending.Tasks.Count)]);
                        offset += pending.Tasks.Count;
                    }
                }
                catch (Exception ex)
                {
                    LogEnqueueFailed(_owner._logger, ex, _queue, size);
                    foreach (var pending in batch)
                    {
                        pending.Result.TrySetException(ex);
                    }
                }

                batch.Clear();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Enqueueing {Count} coalesced submits on queue {Queue} failed; each caller gets the error")]
    private static partial void LogEnqueueFailed(ILogger logger, Exception exception, string queue, int count);
}
