namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// An auto-reset wake-up for one waiter: a Set while nobody waits is remembered, so a signal that
/// arrives while the dispatcher is busy claiming is never lost.
/// </summary>
public sealed class AsyncSignal
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _waiter;
    private bool _pending;

    public void Set()
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _waiter;
            _waiter = null;
            _pending = waiter is null;
        }

        waiter?.TrySetResult();
    }

    /// <summary>Waits for a Set or the timeout; true when signalled.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (_pending)
            {
                _pending = false;
                return true;
            }

            waiter = _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        try
        {
            await waiter.Task.WaitAsync(timeout, time ?? TimeProvider.System, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            lock (_lock)
            {
                if (_waiter == waiter)
                {
                    _waiter = null;
                }
            }

            return waiter.Task.IsCompleted;
        }
    }
}
