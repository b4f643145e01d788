using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Services;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// Coalesces workers' reports per queue (<see cref="QueueLanes{T}"/>): while one batch is in Redis the next
/// one gathers, so under load one script call settles many tasks and when idle a report waits for nothing.
/// A batch Redis could not take because it was unreachable is posted again after a backoff
/// (<see cref="SettleRetry"/>) until each report's lease deadline; a report still unsettled then fails with
/// <see cref="ReportNotSettledException"/>. No report is dropped without its caller hearing of it.
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
    private readonly SettleRetry _retry;
    private readonly CancellationTokenSource _stopping = new();

    public OutcomeBatcher(
        RedisTaskStore store, BrokerTelemetry telemetry, ClusterEvents cluster, PromoterSignal promoter, SettleRetry retry, TimeProvider time,
        ILogger<OutcomeBatcher> logger)
    {
        _store = store;
        _retry = retry;
        _telemetry = telemetry;
        _cluster = cluster;
        _promoter = promoter;
        _time = time;
        _logger = logger;
        _lanes = new QueueLanes<Report>(SettleAsync, _ => 1, MaxBatch);
    }

    /// <param name="held">The lease as the reporting session holds it (for telemetry), if it does.</param>
    /// <param name="retryUntil">The lease's deadline as the broker knows it: while Redis is unreachable the report is tried again until then (null: tried once).</param>
    public Task<TransitionResult> CompleteAsync(TaskCompletion completion, InFlightTask? held = null, DateTimeOffset? retryUntil = null) =>
        Enqueue(completion.Id.Queue, new Report(completion, null, null, held, retryUntil));

    public Task<TransitionResult> FailAsync(TaskFailure failure, InFlightTask? held = null, DateTimeOffset? retryUntil = null) =>
        Enqueue(failure.Id.Queue, new Report(null, failure, null, held, retryUntil));

    public Task<TransitionResult> ReleaseAsync(LeaseRef lease, DateTimeOffset? retryUntil = null) =>
        Enqueue(lease.Id.Queue, new Report(null, null, lease, null, retryUntil));

    public async ValueTask DisposeAsync()
    {
        // Reports waiting for another try are given up (the broker stops; their leases run out as after a crash).
        await _stopping.CancelAsync();
        await _lanes.DisposeAsync();
        _stopping.Dispose();
    }

    private Task<TransitionResult> Enqueue(string queue, Report report)
    {
        if (!_lanes.Post(queue, report))
        {
            report.Result.TrySetException(new ObjectDisposedException(nameof(OutcomeBatcher), "The broker is stopping."));
        }

        return report.Result.Task;
    }

    private sealed record Report(TaskCompletion? Completion, TaskFailure? Failure, LeaseRef? Release, InFlightTask? Held, DateTimeOffset? RetryUntil)
    {
        public TaskCompletionSource<TransitionResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Script calls that carried this report and failed because Redis was unreachable.</summary>
        public int Tries { get; set; }

        public TaskId Id => Completion?.Id ?? Failure?.Id ?? Release!.Value.Id;
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

        IReadOnlyList<TransitionResult> results;
        try
        {
            results = await settle();
        }
        catch (Exception ex) when (SettleRetry.IsTransient(ex) && !_stopping.IsCancellationRequested)
        {
            RetryLater(queue, reports, ex);
            return;
        }
        catch (ReplicaAckException shortfall)
        {
            // Settled on the primary, but too few replicas hold it: not counted as settled; the workers hear their leases are lost.
            Log.ReplicaAcksShort(_logger, shortfall.Operation, reports.Count, queue, shortfall.Acks.ToString(), shortfall.Timeout.TotalMilliseconds);
            foreach (var report in reports)
            {
                report.Result.TrySetException(shortfall);
            }

            return;
        }
        catch (Exception ex)
        {
            Log.SettleFailed(_logger, ex, queue, reports.Count);
            foreach (var report in reports)
            {
                report.Result.TrySetException(ex);
            }

            return;
        }

        // Settled: nothing after this point tries a report again (a wake-up that fails does not unsettle it).
        try
        {
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

    /// <summary>
    /// Redis was unreachable: the reports whose lease deadline has not passed wait and go to their queue's lane again
    /// (batched with whatever came meanwhile); the others, and those past the cap on waiting reports, are given up.
    /// </summary>
    private void RetryLater(string queue, List<Report> reports, Exception error)
    {
        var now = _time.GetUtcNow();
        var again = new List<Report>(reports.Count);
        var givenUp = new List<Report>();
        foreach (var report in reports)
        {
            report.Tries++;
            (report.RetryUntil is { } until && until > now ? again : givenUp).Add(report);
        }

        var held = _retry.TryHold(again.Count);
        if (held < again.Count)
        {
            Log.SettleRetryFull(_logger, queue, again.Count - held, _retry.Pending);
            givenUp.AddRange(again.Skip(held));
            again.RemoveRange(held, again.Count - held);
        }

        GiveUp(queue, givenUp, error);
        if (again.Count == 0)
        {
            return;
        }

        // Not past the earliest deadline among them, so the last try comes before the lease runs out.
        var delay = _retry.DelayAfter(again.Min(r => r.Tries));
        var earliest = again.Min(r => r.RetryUntil!.Value) - now;
        if (earliest < delay)
        {
            delay = earliest;
        }

        Log.SettleRetrying(_logger, error.GetType().Name, queue, again.Count, again.Max(r => r.Tries), delay.TotalMilliseconds);
        _ = RepostAsync(queue, again, delay, error);
    }

    private async Task RepostAsync(string queue, List<Report> reports, TimeSpan delay, Exception error)
    {
        try
        {
            await Task.Delay(delay, _time, _stopping.Token);
        }
        catch (OperationCanceledException)
        {
            _retry.Free(reports.Count);
            GiveUp(queue, reports, error);
            return;
        }

        _retry.Free(reports.Count);
        foreach (var report in reports)
        {
            if (!_lanes.Post(queue, report))
            {
                GiveUp(queue, [report], error);
            }
        }
    }

    private void GiveUp(string queue, List<Report> reports, Exception error)
    {
        if (reports.Count == 0)
        {
            return;
        }

        Log.SettleGivenUp(_logger, error, queue, reports.Count, reports.Max(r => r.Tries));
        foreach (var report in reports)
        {
            report.Result.TrySetException(new ReportNotSettledException(
                $"The report of task {report.Id} could not be settled before its lease ran out (Redis unreachable, {report.Tries} tries).", error));
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
