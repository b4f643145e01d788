using TaskQueue.Broker.Dispatch;

namespace TaskQueue.Broker.Schedules;

/// <summary>
/// Tells this broker's scheduler that a schedule changed (an upsert or resume here or on another broker, over
/// <see cref="Storage.RedisKeys.ScheduleChannel"/>): it reads when the next one falls due instead of sleeping on.
/// </summary>
internal sealed class ScheduleSignal
{
    private readonly AsyncSignal _signal = new();

    public void Wake() => _signal.Set();

    /// <summary>Waits for a wake-up or the timeout; true when woken.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken) =>
        _signal.WaitAsync(timeout, cancellationToken, time);
}
