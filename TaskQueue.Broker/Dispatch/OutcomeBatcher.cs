using System.Collections.Concurrent;
using System.Threading.Channels;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Services;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// Coalesces workers' reports per queue: while one batch is in Redis the next one gathers, so under load
/// one script call settles many tasks and when idle a report waits for nothing.
/// </summary>
internal sealed partial class OutcomeBatcher(
    RedisTaskStore store, BrokerTelemetry telemetry, ClusterEvents cluster, PromoterSignal promoter, TimeProvider time, ILogger<OutcomeBatcher> logger)
    : IAsyncDisposable
{
    private const int MaxBatch = 512;

    private readonly RedisTaskStore _store = store;
    private readonly ClusterEvents _cluster = cluster;
    private readonly PromoterSignal _promoter = promoter;
    private readonly BrokerTelemetry _telemetry = telemetry;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;
    private readonly ConcurrentDictionary<string, Lane> _lanes = new(StringComparer.Ordinal);

    /// <param name="held">The lease as the reporting session holds it (for telemetry), if it does.</param>
    public Task<TransitionResult> CompleteAsync(TaskCompletion completion, InFlightTask? held = null) =>
        Enqueue(completion.Id.Queue, new Report(completion, null, null, held));

    public Task<TransitionResult> FailAsync(TaskFailure failure, InFlightTask? held = null) =>
        Enqueue(failure.Id.Queue, new Report(null, failure, null, held));

    public Task<TransitionResult> ReleaseAsync(LeaseRef lease) =>
        Enqueue(lease.Id.Queue, new Report(null, null, lease, null));

    private Task<TransitionResult> Enqueue(string queue, Report report)
    {
        _lanes.GetOrAdd(queue, q => new Lane(this, q)).Writer.TryWrite(report);
        return report.Result.Task;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes.Values)
        {
            lane.Writer.TryComplete();
        }

        await Task.WhenAll(_lanes.Values.Select(l => l.Completion));
    }

    private sealed record Report(TaskCompletion? Completion, TaskFailure? Failure, LeaseRef? Release, InFlightTask? Held)
    {
        public TaskCompletionSource<TransitionResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Lane
    {
        private readonly OutcomeBatcher _owner;
        private readonly string _queue;
        private readonly Channel<Report> _channel = Channel.CreateUnbounded<Report>(new UnboundedChannelOptions { SingleReader = true });

        public Lane(OutcomeBatcher owner, string queue)
        {
            _owner = owner;
            _queue = queue;
            // A loop for every caller: it must not run (and trace its Redis calls) inside the request that created it.
            using (ExecutionContext.SuppressFlow())
            {
                Completion = Task.Run(RunAsync);
            }
        }

        public ChannelWriter<Report> Writer => _channel.Writer;

        public Task Completion { get; }

        private async Task RunAsync()
        {
            var batch = new List<Report>(MaxBatch);
            while (await _channel.Reader.WaitToReadAsync())
            {
                while (batch.Count < MaxBatch && _channel.Reader.TryRead(out var report))
                {
                    batch.Add(report);
                }

                await SettleAsync(batch);
                batch.Clear();
            }
        }

        private async Task SettleAsync(List<Report> batch)
        {
            var completions = batch.Where(r => r.Completion is not null).ToList();
            var failures = batch.Where(r => r.Failure is not null).ToList();
            var releases = batch.Where(r => r.Release is not null).ToList();
            await Task.WhenAll(
                RunAsync(completions, () => _owner._store.CompleteAsync(_queue, [.. completions.Select(r => r.Completion!)])),
                RunAsync(failures, () => _owner._store.FailAsync(_queue, [.. failures.Select(r => r.Failure!)]), results =>
                {
                    // A retry without backoff is ready already (the script announced it); one with backoff is
                    // the promoter's, which may be sleeping past the moment it falls due.
                    if (results.Contains(TransitionResult.Retrying))
                    {
                        _owner._promoter.Wake();
                    }
                }),
                RunAsync(releases, () => _owner._store.ReleaseAsync(_queue, [.. releases.Select(r => r.Release!.Value)]), results =>
                {
                    // Handed back by a draining worker: ready again now, for any broker's workers.
                    if (results.Contains(TransitionResult.Ok))
                    {
                        _owner._cluster.PublishReady(_queue);
                    }
                }));
        }

        private async Task RunAsync(
            List<Report> reports, Func<Task<IReadOnlyList<TransitionResult>>> settle, Action<IReadOnlyList<TransitionResult>>? settled = null)
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
                    Record(reports[i], results[i]);
                    reports[i].Result.TrySetResult(results[i]);
                }

                settled?.Invoke(results);
            }
            catch (Exception ex)
            {
                LogSettleFailed(_owner._logger, ex, _queue, reports.Count);
                foreach (var report in reports)
                {
                    report.Result.TrySetException(ex);
                }
            }
        }

        private void Record(Report report, TransitionResult result)
        {
            if (report.Release is not null)
            {
                return; // a hand-back is not an attempt's outcome
            }

            _owner._telemetry.Settled(
                report.Held?.Trace, _queue, result, completion: report.Completion is not null, report.Failure?.Error,
                report.Held?.AssignedAt, _owner._time.GetUtcNow());
            if (result == TransitionResult.DeadLettered && report.Failure is { } failure)
            {
                var trace = report.Held?.Trace;
                LogDeadLettered(_owner._logger, failure.Id.ToString(), trace?.Type ?? "", _queue, trace?.Attempt ?? 0, failure.Error);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} ({TaskType}) on queue {Queue} was dead-lettered after attempt {Attempt}: {Error}")]
    private static partial void LogDeadLettered(ILogger logger, string taskId, string taskType, string queue, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Settling {Count} reports on queue {Queue} failed; the workers' leases stay until they expire")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception, string queue, int count);
}
