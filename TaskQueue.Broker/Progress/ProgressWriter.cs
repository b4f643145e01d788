using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Progress;

/// <summary>
/// Stores workers' progress reports, coalesced: the latest report of each task within a <see cref="Window"/> wins,
/// and the window's reports go to Redis as one progress script call per queue (512 tasks at most), all queues at
/// once. So a handler that reports in a tight loop costs Redis at most one write per window, and an idle broker
/// runs no timer. A stale report (the lease moved on) changes nothing and its session is told LeaseLost.
/// Best effort: reports still in the window when the broker stops are dropped (a later one, or a checkpoint,
/// carries the progress on).
/// </summary>
internal sealed class ProgressWriter(RedisTaskStore store, TimeProvider time, ILogger<ProgressWriter> logger)
{
    /// <summary>How long a report may wait for later ones of its task to replace it.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(250);

    private const int MaxBatch = 512;

    private readonly Lock _gate = new();
    private Dictionary<TaskId, Pending> _pending = [];
    private bool _flushScheduled;
    private int _waiting;

    /// <summary>Reports waiting for the window to end.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Takes the report of <paramref name="session"/>'s worker; replaces one of the same task still waiting.</summary>
    public void Report(WorkerSession session, TaskProgressReport report)
    {
        lock (_gate)
        {
            _pending[report.Id] = new Pending(session, report);
            Volatile.Write(ref _waiting, _pending.Count);
            if (_flushScheduled)
            {
                return;
            }

            _flushScheduled = true;
        }

        // The flush runs outside the worker stream's request (Redis command tracing keeps a request's commands).
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(FlushAfterWindowAsync);
        }
    }

    /// <summary>A checkpoint that carries progress is newer than a report of its task still waiting: the report goes.</summary>
    public void Forget(TaskId id)
    {
        lock (_gate)
        {
            _pending.Remove(id);
            Volatile.Write(ref _waiting, _pending.Count);
        }
    }

    /// <summary>
    /// The tasks' outcomes are about to be settled: their reports still waiting are written now, ahead of the outcomes
    /// (commands reach Redis in the order they are issued), so a handler's last progress is not lost to its own
    /// completion. Costs nothing while no report waits.
    /// </summary>
    public void WriteBefore(IEnumerable<TaskId> settling)
    {
        if (Volatile.Read(ref _waiting) == 0)
        {
            return;
        }

        List<Pending>? due = null;
        lock (_gate)
        {
            foreach (var id in settling)
            {
                if (_pending.Remove(id, out var pending))
                {
                    (due ??= []).Add(pending);
                }
            }

            Volatile.Write(ref _waiting, _pending.Count);
        }

        foreach (var queue in due?.GroupBy(p => p.Report.Id.Queue, StringComparer.Ordinal) ?? [])
        {
            _ = WriteAsync(queue.Key, [.. queue]);
        }
    }

    private async Task FlushAfterWindowAsync()
    {
        await Task.Delay(Window, time);
        Dictionary<TaskId, Pending> batch;
        lock (_gate)
        {
            batch = _pending;
            _pending = [];
            _flushScheduled = false;
            Volatile.Write(ref _waiting, 0);
        }

        await Task.WhenAll(batch.Values
            .GroupBy(pending => pending.Report.Id.Queue, StringComparer.Ordinal)
            .SelectMany(queue => queue.Chunk(MaxBatch).Select(chunk => WriteAsync(queue.Key, chunk))));
    }

    private async Task WriteAsync(string queue, Pending[] reports)
    {
        IReadOnlyList<TransitionResult> results;
        try
        {
            results = await store.ReportProgressAsync(queue, [.. reports.Select(pending => pending.Report)]);
        }
        catch (Exception ex)
        {
            Log.ProgressFailed(logger, ex, queue, reports.Length);
            return;
        }

        for (var i = 0; i < reports.Length; i++)
        {
            var (session, report) = reports[i];
            // Told only while the session still holds that lease: a report overtaken by its own task's outcome is no news.
            if (results[i] is TransitionResult.StaleLease or TransitionResult.NotFound && session.Find(report.Id, report.Token) is not null)
            {
                session.SendLeaseLost(report.Id.ToString(), report.Token, "the lease is no longer yours (stale progress)");
            }
        }
    }

    private readonly record struct Pending(WorkerSession Session, TaskProgressReport Report);
}
