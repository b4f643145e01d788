using TaskQueue.Broker.Dispatch;

namespace TaskQueue.Broker.Services;

/// <summary>
/// Tells this broker's promoter that work was just scheduled (a retry with backoff): it reads when the
/// next task falls due instead of sleeping out an interval chosen before that task existed.
/// </summary>
internal sealed class PromoterSignal
{
    private readonly AsyncSignal _signal = new();

    public void Wake() => _signal.Set();

    /// <summary>Waits for a wake-up or the timeout; true when woken.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken) =>
        _signal.WaitAsync(timeout, cancellationToken, time);
}
