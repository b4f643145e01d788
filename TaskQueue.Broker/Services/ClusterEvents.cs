using System.Collections.Concurrent;
using StackExchange.Redis;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Wake-ups between brokers over Redis pub/sub: work became ready, a waited-on task finished, a running
/// task was cancelled, a worker was quarantined. Pub/sub is only a wake-up: every decision is re-read
/// from Redis, and every waiter also re-checks on a timer, so a lost message delays and never loses.
/// </summary>
internal sealed partial class ClusterEvents(IConnectionMultiplexer redis, Dispatcher dispatcher, TimeProvider time, ILogger<ClusterEvents> logger)
    : IHostedService
{
    private const string QuarantineChannel = "tq:quarantine";

    private readonly ConcurrentDictionary<TaskId, TaskCompletionSource> _waiters = new();
    private readonly ConcurrentDictionary<string, ReadyPublisher> _readyPublishers = new(StringComparer.Ordinal);
    private readonly IConnectionMultiplexer _redis = redis;
    private readonly ILogger _logger = logger;

    /// <summary>This broker's id (as shown in GET /workers).</summary>
    public string BrokerId { get; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Worker sessions connected to this broker, by worker id.</summary>
    public ConcurrentDictionary<string, WorkerSession> Sessions { get; } = new(StringComparer.Ordinal);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var subscriber = _redis.GetSubscriber();
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.ReadyChannel), (_, queue) => dispatcher.NotifyWork(queue!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.FinishedChannel), (_, message) => OnFinished(message!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.CancelChannel), (_, message) => OnCancel(message!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(QuarantineChannel), (_, message) => OnQuarantine(message!));
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        _redis.GetSubscriber().UnsubscribeAllAsync();

    /// <summary>
    /// Wakes every broker's dispatcher for the queue (this one directly). Under load, publishes coalesce:
    /// while one is on its way to Redis, later calls only ask for one more after it, so a burst of
    /// submits costs two PUBLISHes, not one each — and every call is still followed by a publish that
    /// left after it.
    /// </summary>
    public void PublishReady(string queue)
    {
        dispatcher.NotifyWork(queue);
        var publisher = _readyPublishers.GetOrAdd(queue, q => new ReadyPublisher(this, q));
        publisher.Request();
    }

    /// <summary>Tells the broker holding the worker's stream to cancel the task's handler.</summary>
    public void PublishCancel(string workerId, TaskId taskId)
    {
        if (!TryCancelLocally(workerId, taskId.ToString()))
        {
            _redis.GetSubscriber().Publish(RedisChannel.Literal(RedisKeys.CancelChannel), workerId + " " + taskId, CommandFlags.FireAndForget);
        }
    }

    public void PublishQuarantine(string workerId, DateTimeOffset until)
    {
        ApplyQuarantine(workerId, until);
        _redis.GetSubscriber().Publish(
            RedisChannel.Literal(QuarantineChannel), workerId + " " + until.ToUnixTimeMilliseconds(), CommandFlags.FireAndForget);
    }

    /// <summary>A task that completes when the store publishes the task as finished.</summary>
    public Task WhenFinished(TaskId id) =>
        _waiters.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void ForgetWaiter(TaskId id, Task waiter)
    {
        if (_waiters.TryGetValue(id, out var source) && source.Task == waiter && !waiter.IsCompleted)
        {
            _waiters.TryRemove(new KeyValuePair<TaskId, TaskCompletionSource>(id, source));
        }
    }

    private void OnFinished(string message)
    {
        if (RedisKeys.ParseFinished(message) is { } id && _waiters.TryRemove(id, out var source))
        {
            source.TrySetResult();
        }
    }

    private void OnCancel(string message)
    {
        var parts = message.Split(' ', 2);
        if (parts.Length == 2)
        {
            TryCancelLocally(parts[0], parts[1]);
        }
    }

    private bool TryCancelLocally(string workerId, string taskId)
    {
        if (!Sessions.TryGetValue(workerId, out var session))
        {
            return false;
        }

        session.Send(new Protocol.V1.BrokerMessage { Cancel = new Protocol.V1.CancelTask { TaskId = taskId } });
        return true;
    }

    private void OnQuarantine(string message)
    {
        var parts = message.Split(' ', 2);
        if (parts.Length == 2 && long.TryParse(parts[1], out var ms))
        {
            ApplyQuarantine(parts[0], DateTimeOffset.FromUnixTimeMilliseconds(ms));
        }
    }

    private void ApplyQuarantine(string workerId, DateTimeOffset until)
    {
        if (Sessions.TryGetValue(workerId, out var session) && !session.IsQuarantined(time.GetUtcNow()))
        {
            session.QuarantinedUntil = until;
            LogQuarantined(_logger, workerId, until);
        }
    }

    /// <summary>The coalescing publisher of one queue's ready wake-ups.</summary>
    private sealed class ReadyPublisher(ClusterEvents owner, string queue)
    {
        private const int Idle = 0;
        private const int Publishing = 1;
        private const int PublishingAndRequested = 2;
        private int _state;

        public void Request()
        {
            while (true)
            {
                var state = Volatile.Read(ref _state);
                var next = state == Idle ? Publishing : PublishingAndRequested;
                if (Interlocked.CompareExchange(ref _state, next, state) == state)
                {
                    if (state == Idle)
                    {
                        _ = PublishAsync();
                    }

                    return;
                }
            }
        }

        private async Task PublishAsync()
        {
            var subscriber = owner._redis.GetSubscriber();
            while (true)
            {
                try
                {
                    await subscriber.PublishAsync(RedisChannel.Literal(RedisKeys.ReadyChannel), queue);
                }
                catch (Exception ex)
                {
                    // A lost wake-up only delays: dispatchers re-check idle queues on a timer.
                    LogPublishFailed(owner._logger, ex, queue);
                }

                if (Interlocked.CompareExchange(ref _state, Idle, Publishing) == Publishing)
                {
                    return;
                }

                // Requested again while this one was on its way: publish once more, for those requests.
                Interlocked.Exchange(ref _state, Publishing);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Publishing a ready wake-up for queue {Queue} failed")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} is quarantined until {Until}: its leases keep expiring without completions")]
    private static partial void LogQuarantined(ILogger logger, string workerId, DateTimeOffset until);
}
