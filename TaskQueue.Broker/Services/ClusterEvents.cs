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

    /// <summary>This broker's id (as shown in GET /workers).</summary>
    public string BrokerId { get; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Worker sessions connected to this broker, by worker id.</summary>
    public ConcurrentDictionary<string, WorkerSession> Sessions { get; } = new(StringComparer.Ordinal);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var subscriber = redis.GetSubscriber();
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.ReadyChannel), (_, queue) => dispatcher.NotifyWork(queue!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.FinishedChannel), (_, message) => OnFinished(message!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.CancelChannel), (_, message) => OnCancel(message!));
        await subscriber.SubscribeAsync(RedisChannel.Literal(QuarantineChannel), (_, message) => OnQuarantine(message!));
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        redis.GetSubscriber().UnsubscribeAllAsync();

    /// <summary>Wakes every broker's dispatcher for the queue (this one directly).</summary>
    public void PublishReady(string queue)
    {
        dispatcher.NotifyWork(queue);
        redis.GetSubscriber().Publish(RedisChannel.Literal(RedisKeys.ReadyChannel), queue, CommandFlags.FireAndForget);
    }

    /// <summary>Tells the broker holding the worker's stream to cancel the task's handler.</summary>
    public void PublishCancel(string workerId, TaskId taskId)
    {
        if (!TryCancelLocally(workerId, taskId.ToString()))
        {
            redis.GetSubscriber().Publish(RedisChannel.Literal(RedisKeys.CancelChannel), workerId + " " + taskId, CommandFlags.FireAndForget);
        }
    }

    public void PublishQuarantine(string workerId, DateTimeOffset until)
    {
        ApplyQuarantine(workerId, until);
        redis.GetSubscriber().Publish(
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
            LogQuarantined(logger, workerId, until);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} is quarantined until {Until}: its leases keep expiring without completions")]
    private static partial void LogQuarantined(ILogger logger, string workerId, DateTimeOffset until);
}
