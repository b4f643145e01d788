using Microsoft.Extensions.Options;
using TaskQueue.Worker.Diagnostics;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// An operator drained this worker (the broker's WorkerDrain, from DrainWorker): like the shutdown drain it takes no new
/// tasks and, after DrainTimeout, releases what still runs, but it keeps the connection and its heartbeats and does not
/// stop the host: the worker stays drained, saying so after every Hello, until its process restarts.
/// </summary>
internal sealed class OperatorDrain(
    TaskExecutor executor,
    OutboundQueue outbound,
    IOptions<WorkerOptions> options,
    ILogger<OperatorDrain> logger) : IDisposable
{
    private readonly WorkerOptions _options = options.Value;
    private readonly CancellationTokenSource _disposed = new();

    /// <summary>Starts the drain; nothing again while the worker drains already (an earlier WorkerDrain, or shutting down).</summary>
    public void Begin()
    {
        if (executor.IsDraining)
        {
            return;
        }

        var running = executor.BeginDrain();
        Log.DrainedByOperator(logger, running, _options.DrainTimeout);
        outbound.Enqueue(DrainingItem.Instance);
        _ = ReleaseAfterTimeoutAsync();
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }

    private async Task ReleaseAfterTimeoutAsync()
    {
        try
        {
            if (!await executor.WaitForIdleAsync(_options.DrainTimeout, _disposed.Token))
            {
                var released = executor.ReleaseRemaining(close: null);
                if (released > 0)
                {
                    Log.DrainTimedOut(logger, released);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The host is gone; its own drain handled what was left.
        }
    }
}
