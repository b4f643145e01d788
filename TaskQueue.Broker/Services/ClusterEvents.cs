using System.Collections.Concurrent;
using StackExchange.Redis;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Wake-ups between brokers over Redis pub/sub: work became ready, a waited-on task finished, a watched task changed, a running
/// task was cancelled, a worker was quarantined or drained, a schedule changed. This class only subscribes and publishes: what a message
/// means here belongs to the dispatcher, the Wait waiters, the Watch watchers, the sessions, the quarantine and the drains. Pub/sub is only
/// a wake-up: every decision is re-read from Redis, and every waiter also re-checks on a timer, so a lost
/// message delays and never loses.
/// </summary>
internal sealed class ClusterEvents(
    IConnectionMultiplexer redis, Dispatcher dispatcher, SessionRegistry sessions, TaskWaiters waiters, TaskWatchers watchers, WorkerQuarantine quarantine,
    WorkerDrains drains, Schedules.ScheduleSignal schedules,
    ILogger<ClusterEvents> logger)
    : IHostedService, IReadyAnnouncer
{
    private const string QuarantineChannel = "tq:quarantine";
    private const string DrainChannel = "tq:drain";

    private readonly ConcurrentDictionary<string, ReadyPublisher> _readyPublishers = new(StringComparer.Ordinal);
    private readonly IConnectionMultiplexer _redis = redis;
    private readonly ILogger _logger = logger;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var subscriber = _redis.GetSubscriber();
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.ReadyChannel), (_, queue) => dispatcher.NotifyWork(queue!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.FinishedChannel), (_, message) => OnFinished(message!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.ChangedChannel), (_, message) => OnChanged(message!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.CancelChannel), (_, message) => OnCancel(message!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(QuarantineChannel), (_, message) => OnQuarantine(message!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(DrainChannel), (_, workerId) => drains.TryDrain(workerId!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.ScheduleChannel), (_, _) => schedules.Wake());
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

    /// <summary>Quarantines the worker on every broker (this one directly).</summary>
    public void PublishQuarantine(string workerId, DateTimeOffset until)
    {
        quarantine.Impose(workerId, until);
        _redis.GetSubscriber().Publish(
            RedisChannel.Literal(QuarantineChannel), workerId + " " + until.ToUnixTimeMilliseconds(), CommandFlags.FireAndForget);
    }

    /// <summary>
    /// Drains the worker where its stream is: this broker's session directly, else the other brokers over pub/sub. Returns
    /// whether a session here took it, and otherwise how many other brokers heard the publish (0 when it failed: the
    /// registry's drain flag, which the caller set first, still drains the worker at its next heartbeat).
    /// </summary>
    public async Task<(bool DeliveredHere, long BrokersTold)> PublishWorkerDrainAsync(string workerId)
    {
        if (drains.TryDrain(workerId))
        {
            return (true, 0);
        }

        try
        {
            // Redis counts every subscriber, this broker's own among them.
            var heard = await _redis.GetSubscriber().PublishAsync(RedisChannel.Literal(DrainChannel), workerId);
            return (false, Math.Max(0, heard - 1));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.PublishDrainFailed(_logger, ex, workerId);
            return (false, 0);
        }
    }

    private void OnFinished(string message)
    {
        if (RedisKeys.ParseFinished(message) is { } id)
        {
            waiters.Finished(id);
        }
    }

    private void OnChanged(string message)
    {
        if (RedisKeys.ParseFinished(message) is { } id)
        {
            watchers.OnChanged(id);
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
        if (!sessions.TryGet(workerId, out var session))
        {
            return false;
        }

        session.SendCancel(taskId);
        return true;
    }

    private void OnQuarantine(string message)
    {
        var parts = message.Split(' ', 2);
        if (parts.Length == 2 && long.TryParse(parts[1], out var ms))
        {
            quarantine.Impose(parts[0], DateTimeOffset.FromUnixTimeMilliseconds(ms));
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
                    Log.PublishReadyFailed(owner._logger, ex, queue);
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
}
