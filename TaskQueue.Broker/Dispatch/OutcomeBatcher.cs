using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Services;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// Coalesces workers' reports per queue (<see cref="QueueLanes{T}"/>): while one batch is in Redis the next
/// one gathers, so under load one script call settles many tasks and when idle a report waits for nothing.
/// </summary>
internal sealed class OutcomeBatcher : IAsyncDisposable
{
    private const int MaxBatch = 512;

    private readonly RedisTaskStore _store;
    private readonly BrokerTelemetry _telemetry;
    private readonly ClusterEvents _cluster;
    private readonly PromoterSignal _promoter;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly QueueLanes<Report> _lanes;

    public OutcomeBatcher(
        RedisTaskStore store, BrokerTelemetry telemetry, ClusterEvents cluster, PromoterSignal promoter, TimeProvider time, ILogger<OutcomeBatcher> logger)
    {
        _store = store;
        _telemetry = telemetry;
        _cluster = cluster;
        _promoter = promoter;
        _time = time;
        _logger = logger;
        _lanes = new QueueLanes<Report>(SettleAsync, _ => 1, MaxBatch);
    }

    /// <param name="held">The lease as the reporting session holds it (for telemetry), if it does.</param>
    public Task<TransitionResult> CompleteAsync(TaskCompletion completion, InFlightTask? held = null) =>
        Enqueue(completion.Id.Queue, new Report(completion, null, null, held));

    public Task<TransitionResult> FailAsync(TaskFailure failure, InFlightTask? held = null) =>
        Enqueue(failure.Id.Queue, new Report(null, failure, null, held));

    public Task<TransitionResult> ReleaseAsync(LeaseRef lease) =>
        Enqueue(lease.Id.Queue, new Report(null, null, lease, null));

    public ValueTask DisposeAsync() => _lanes.DisposeAsync();

    private Task<TransitionResult> Enqueue(string queue, Report report)
    {
        _lanes.Post(queue, report);
        return report.Result.Task;
    }

    private sealed record Report(TaskCompletion? Completion, TaskFailure? Failure, LeaseRef? Release, InFlightTask? Held)
    {
        public TaskCompletionSource<TransitionResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task SettleAsync(string queue, List<Report> batch)
    {
        var completions = batch.Where(r => r.Completion is not null).ToList();
        var failures = batch.Where(r => r.Failure is not null).ToList();
        var releases = batch.Where(r => r.Release is not null).ToList();
        await Task.WhenAll(
            RunAsync(queue, completions, () => _store.CompleteAsync(queue, [.. completions.Select(r => r.Completion!)])),
            RunAsync(queue, failures, () => _store.FailAsync(queue, [.. failures.Select(r => r.Failure!)]), results =>
            {
                // A retry without backoff is ready already (the script announced it); one with backoff is
                // the promoter's, which may be sleeping past the moment it falls due.
                if (results.Contains(TransitionResult.Retrying))
                {
                    _promoter.Wake();
                }
            }),
            RunAsync(queue, releases, () => _store.ReleaseAsync(queue, [.. releases.Select(r => r.Release!.Value)]), results =>
            {
                // Handed back by a draining worker: ready again now, for any broker's workers.
                if (results.Contains(TransitionResult.Ok))
                {
                    _cluster.PublishReady(queue);
                }
            }));
    }

    private async Task RunAsync(
        string queue, List<Report> reports, Func<Task<IReadOnlyList<TransitionResult>>> settle, Action<IReadOnlyList<TransitionResult>>? settled = null)
    {
        if (reports.Count == 0)
        {
            return;
        }

        try
        {
            var results = await settle();
            for (var i = 0; i < reports.Count; i++)
            {
                Record(queue, reports[i], results[i]);
                reports[i].Result.TrySetResult(results[i]);
            }

            settled?.Invoke(results);
        }
        catch (Exception ex)
        {
            Log.SettleFailed(_logger, ex, queue, reports.Count);
            foreach (var report in reports)
            {
                report.Result.TrySetException(ex);
            }
        }
    }

    private void Record(string queue, Report report, TransitionResult result)
    {
        if (report.Release is not null)
        {
            return; // a hand-back is not an attempt's outcome
        }

        _telemetry.Settled(
            report.Held?.Trace, queue, result, completion: report.Completion is not null, report.Failure?.Error,
            report.Held?.AssignedAt, _time.GetUtcNow());
        if (result == TransitionResult.DeadLettered && report.Failure is { } failure)
        {
            var trace = report.Held?.Trace;
            Log.DeadLettered(_logger, failure.Id.ToString(), trace?.Type ?? "", queue, trace?.Attempt ?? 0, failure.Error.Length);
        }
    }
}
