using System.Collections.Concurrent;
using System.Threading.Channels;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// One coalescing loop per queue: items posted for a queue gather while the previous batch is in Redis, so
/// under load one script call handles many and when idle an item waits for nothing. A batch takes whole
/// items up to <c>maxWeight</c> (an item heavier than that goes alone). The loops run outside the callers'
/// requests, so Redis command tracing does not keep each request's commands. <c>process</c> completes
/// every item of its batch, errors included: it must not throw.
/// </summary>
internal sealed class QueueLanes<T>(Func<string, List<T>, Task> process, Func<T, int> weight, int maxWeight) : IAsyncDisposable
{
    private readonly Func<string, List<T>, Task> _process = process;
    private readonly Func<T, int> _weight = weight;
    private readonly int _maxWeight = maxWeight;
    private readonly ConcurrentDictionary<string, Lane> _lanes = new(StringComparer.Ordinal);

    /// <summary>Queues the item for its queue's loop; false once disposed (the item will not be processed).</summary>
    public bool Post(string queue, T item) => _lanes.GetOrAdd(queue, q => new Lane(this, q)).Writer.TryWrite(item);

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes.Values)
        {
            lane.Writer.TryComplete();
        }

        await Task.WhenAll(_lanes.Values.Select(l => l.Completion));
    }

    private sealed class Lane
    {
        private readonly QueueLanes<T> _owner;
        private readonly string _queue;
        private readonly Channel<T> _channel = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true });

        public Lane(QueueLanes<T> owner, string queue)
        {
            _owner = owner;
            _queue = queue;
            // A loop for every caller: it must not run (and trace its Redis calls) inside the request that created it.
            using (ExecutionContext.SuppressFlow())
            {
                Completion = Task.Run(RunAsync);
            }
        }

        public ChannelWriter<T> Writer => _channel.Writer;

        public Task Completion { get; }

        private async Task RunAsync()
        {
            var batch = new List<T>();
            while (await _channel.Reader.WaitToReadAsync())
            {
                var total = 0;
                while (_channel.Reader.TryPeek(out var next)
                       && (batch.Count == 0 || total + _owner._weight(next) <= _owner._maxWeight)
                       && _channel.Reader.TryRead(out next))
                {
                    batch.Add(next);
                    total += _owner._weight(next);
                }

                await _owner._process(_queue, batch);
                batch.Clear();
            }
        }
    }
}
