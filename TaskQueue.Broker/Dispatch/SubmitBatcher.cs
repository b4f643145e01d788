using System.Collections.Concurrent;
using System.Threading.Channels;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// Coalesces single submits per queue: while one enqueue script is in Redis the next submits gather, so
/// under concurrent load one script call stores many tasks, and when idle a submit waits for nothing.
/// Each task is validated before it joins a batch, so one caller's bad task never fails another's.
/// </summary>
internal sealed partial class SubmitBatcher(RedisTaskStore store, ILogger<SubmitBatcher> logger) : IAsyncDisposable
{
    private const int MaxBatch = 500;

    private readonly RedisTaskStore _store = store;
    private readonly ILogger _logger = logger;
    private readonly ConcurrentDictionary<string, Lane> _lanes = new(StringComparer.Ordinal);

    /// <summary>Validates (throwing <see cref="TaskValidationException"/>) and enqueues one task.</summary>
    public Task<EnqueueResult> EnqueueAsync(NewTask task, CancellationToken cancellationToken)
    {
        TaskValidation.Validate(task, _store.Options);
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(task);
        _lanes.GetOrAdd(task.Queue, q => new Lane(this, q)).Writer.TryWrite(pending);
        return pending.Result.Task;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes.Values)
        {
            lane.Writer.TryComplete();
        }

        await Task.WhenAll(_lanes.Values.Select(l => l.Completion));
    }

    private sealed record Pending(NewTask Task)
    {
        public TaskCompletionSource<EnqueueResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
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
            var batch = new List<Pending>(MaxBatch);
            while (await _channel.Reader.WaitToReadAsync())
            {
                while (batch.Count < MaxBatch && _channel.Reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }

                try
                {
                    var results = await _owner._store.EnqueueBatchAsync([.. batch.Select(p => p.Task)]);
                    for (var i = 0; i < batch.Count; i++)
                    {
                        batch[i].Result.TrySetResult(results[i]);
                    }
                }
                catch (Exception ex)
                {
                    LogEnqueueFailed(_owner._logger, ex, _queue, batch.Count);
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
