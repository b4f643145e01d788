using Grpc.Core;
using Microsoft.Extensions.Options;
using TaskQueue.Worker.Diagnostics;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// Keeps the worker connected: runs one <see cref="BrokerSession"/> after another, waiting a
/// <see cref="ReconnectBackoff"/> delay between them, until the worker has closed its stream on shutdown.
/// </summary>
internal sealed class BrokerConnection(
    BrokerSession session,
    IOptions<WorkerOptions> options,
    WorkerMetrics metrics,
    TimeProvider timeProvider,
    ILogger<BrokerConnection> logger)
{
    /// <summary>The name of the broker's gRPC client (and of its HttpClient's log category).</summary>
    public const string ClientName = "TaskQueue.Worker.Broker";

    private readonly WorkerOptions _options = options.Value;
    private readonly ReconnectBackoff _backoff = new();

    /// <summary>Runs until the shutdown close marker has been written, or the token is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Log.Connecting(logger, _options.WorkerId, _options.BrokerAddress, string.Join(",", _options.Queues), _options.Concurrency);
        var first = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (!first)
            {
                metrics.Reconnected();
            }

            first = false;
            var end = await session.RunAsync(cancellationToken);
            if (end.WorkerClosed || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            var delay = _backoff.Next(end.Welcomed);
            if (end.Error is null)
            {
                Log.Reconnecting(logger, end.Reason ?? "stream ended", delay);
            }
            else
            {
                // Routine while a broker restarts: one line per attempt, the stack trace only at Debug.
                Log.ConnectionFailed(logger, Describe(end.Error), delay);
                Log.ConnectionFailureDetails(logger, end.Error);
            }

            try
            {
                await Task.Delay(delay, timeProvider, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private static string Describe(Exception error) => error is RpcException rpc
        ? $"{rpc.StatusCode}: {rpc.Status.Detail}"
        : $"{error.GetType().Name}: {error.Message}";
}
