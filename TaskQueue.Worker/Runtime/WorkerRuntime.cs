using Microsoft.Extensions.Options;
using TaskQueue.Worker.Diagnostics;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// The worker's hosted service: keeps the broker connection up while the host runs, and on host stop
/// drains (Draining, wait up to DrainTimeout, release the rest, flush, close the stream).
/// </summary>
internal sealed class WorkerRuntime(
    BrokerConnection connection,
    TaskExecutor executor,
    OutboundQueue outbound,
    IOptions<WorkerOptions> options,
    TimeProvider timeProvider,
    ILogger<WorkerRuntime> logger) : BackgroundService
{
    /// <summary>How long the final outcomes may take to reach the broker after the drain.</summary>
    public static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);

    private readonly WorkerOptions _options = options.Value;

    // Cancelled when the drain is over, or when the host's shutdown timeout cuts it short.
    private readonly CancellationTokenSource _abort = new();

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await using var registration = cancellationToken.Register(_abort.Cancel);
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        EnsureThreadPoolHeadroom(_options.Concurrency);
        var connectionTask = connection.RunAsync(_abort.Token);
        var stopping = Task.Delay(Timeout.InfiniteTimeSpan, timeProvider, stoppingToken);
        if (await Task.WhenAny(connectionTask, stopping) == connectionTask)
        {
            // The connection loop only ends when told to: anything else is a bug, and the host must stop.
            await connectionTask;
            throw new InvalidOperationException("The broker connection loop ended unexpectedly.");
        }

        await DrainAsync(connectionTask);
        await _abort.CancelAsync();
        await connectionTask;
        Log.Stopped(logger);
    }

    private async Task DrainAsync(Task connectionTask)
    {
        var running = executor.BeginDrain();
        Log.DrainStarted(logger, running, _options.DrainTimeout);
        outbound.Enqueue(DrainingItem.Instance);
        try
        {
            await executor.WaitForIdleAsync(_options.DrainTimeout, _abort.Token);

            var close = new CloseItem(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            var released = executor.ReleaseRemaining(close);
            if (released > 0)
            {
                Log.DrainTimedOut(logger, released);
            }

            try
            {
                await close.Flushed.Task.WaitAsync(FlushTimeout, timeProvider, _abort.Token);
            }
            catch (TimeoutException)
            {
                Log.FlushTimedOut(logger, FlushTimeout);
                return;
            }

            await connectionTask.WaitAsync(BrokerSession.CloseTimeout, timeProvider, _abort.Token);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout passed: stop where we are.
        }
        catch (TimeoutException)
        {
            // The broker did not hang up in time; the stream is complete on our side anyway.
        }
    }

    /// <summary>
    /// Handlers that block a thread-pool thread must not starve the stream reader, writer and heartbeat
    /// timer, which all run on the pool: keep a thread for every slot plus a few.
    /// </summary>
    private static void EnsureThreadPoolHeadroom(int concurrency)
    {
        ThreadPool.GetMinThreads(out var workerThreads, out var completionPortThreads);
        var wanted = concurrency + 4;
        if (workerThreads < wanted)
        {
            ThreadPool.SetMinThreads(wanted, completionPortThreads);
        }
    }
}
