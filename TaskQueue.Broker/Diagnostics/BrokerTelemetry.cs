using System.Diagnostics;
using System.Diagnostics.Metrics;
using TaskQueue.Broker.Storage;
using static TaskQueue.Protocol.MessagingTags;

namespace TaskQueue.Broker.Diagnostics;

/// <summary>
/// The broker's one Meter and one ActivitySource. Every span about a task is parented to the trace
/// context the task was submitted with, so its enqueue, each wait in the queue, each attempt's outcome,
/// its retries and its dead-lettering join the client's and the workers' spans in ONE trace per task.
/// Names follow the OpenTelemetry messaging conventions where they have one. The broker's spans are
/// Internal: it is the intermediary, neither producer nor consumer (and the Aspire dashboard shows an
/// Internal span by its name, where it sums up a messaging Producer or Consumer span as "MSG taskqueue &lt;queue&gt;").
/// </summary>
public sealed class BrokerTelemetry : IDisposable
{
    public const string Name = "TaskQueue.Broker";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Meter _meter;

    public BrokerTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        Submitted = _meter.CreateCounter<long>("taskqueue.tasks.submitted", "{task}", "Tasks accepted by the broker (not counting duplicates).");
        Completed = _meter.CreateCounter<long>("taskqueue.tasks.completed", "{task}", "Tasks completed.");
        Failed = _meter.CreateCounter<long>("taskqueue.tasks.failed", "{task}", "Failed attempts reported by workers or expired leases.");
        Retried = _meter.CreateCounter<long>("taskqueue.tasks.retried", "{task}", "Failed attempts scheduled for another try.");
        DeadLettered = _meter.CreateCounter<long>("taskqueue.tasks.dead_lettered", "{task}", "Tasks moved to the dead-letter queue.");
        Expired = _meter.CreateCounter<long>("taskqueue.tasks.expired", "{task}", "Tasks dropped because they did not start before their expiry.");
        LeaseExpiries = _meter.CreateCounter<long>("taskqueue.leases.expired", "{lease}", "Leases that ran out before their worker reported.");
        StaleReports = _meter.CreateCounter<long>("taskqueue.reports.stale", "{report}", "Completions, failures or renewals refused because the lease was no longer the sender's.");
        Quarantines = _meter.CreateCounter<long>("taskqueue.workers.quarantined", "{worker}", "Workers quarantined for letting leases expire.");
        Dispatched = _meter.CreateCounter<long>("taskqueue.tasks.dispatched", "{task}", "Assignments sent to workers.");
        ShortReplicaAcks = _meter.CreateCounter<long>("taskqueue.replica_acks.short", "{task}",
            "Submitted or completed tasks the primary stored but fewer replicas than TaskQueue:Store:AckReplicas acknowledged in time (by operation).");
        QueueWait = _meter.CreateHistogram<double>("taskqueue.task.queue_wait", "s", "Time a task waited ready in its queue before a worker got it.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_secondsBuckets });
        Execution = _meter.CreateHistogram<double>("taskqueue.task.execution", "s", "Time from a task's lease to its worker's report, by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_secondsBuckets });
    }

    // Task queue waits and runs span milliseconds to minutes: the default buckets start at 5 (seconds).
    private static readonly double[] s_secondsBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    public Counter<long> Submitted { get; }
    public Counter<long> Completed { get; }
    public Counter<long> Failed { get; }
    public Counter<long> Retried { get; }
    public Counter<long> DeadLettered { get; }
    public Counter<long> Expired { get; }
    public Counter<long> LeaseExpiries { get; }
    public Counter<long> StaleReports { get; }
    public Counter<long> Quarantines { get; }
    public Counter<long> Dispatched { get; }
    public Counter<long> ShortReplicaAcks { get; }
    public Histogram<double> QueueWait { get; }
    public Histogram<double> Execution { get; }

    public Meter Meter => _meter;

    public static KeyValuePair<string, object?> QueueTag(string queue) => new(MessagingDestinationName, queue);

    private static TagList QueueAndType(string queue, string? type) =>
        type is null ? new TagList { QueueTag(queue) } : new TagList { QueueTag(queue), { TaskType, type } };

    /// <summary>
    /// Starts one "enqueue" span per task, as a child of the trace the task was submitted in, or as the
    /// root of a new trace (stored with the task) when it came without one. Null when nobody listens.
    /// </summary>
    public List<Activity?>? StartEnqueue(List<NewTask> tasks)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        var spans = new List<Activity?>(tasks.Count);
        for (var i = 0; i < tasks.Count; i++)
        {
            var task = tasks[i];
            var span = StartTaskSpan($"enqueue {task.Queue}", "enqueue", "send", ActivityKind.Internal, task.Queue, task.Type, task.TraceParent, task.TraceState, startTime: default);
            if (span is not null && string.IsNullOrEmpty(task.TraceParent))
            {
                // The task's trace starts here: its wait, attempts and settling join this span.
                tasks[i] = task with { TraceParent = span.Id, TraceState = span.TraceStateString };
            }

            spans.Add(span);
        }

        return spans;
    }

    /// <summary>Ends the enqueue spans with the ids the store gave, and counts the tasks accepted.</summary>
    public void Enqueued(List<NewTask> tasks, List<Activity?>? spans, IReadOnlyList<EnqueueResult>? results, Exception? error)
    {
        for (var i = 0; i < tasks.Count; i++)
        {
            var span = spans?[i];
            if (results is not null && !results[i].Duplicate)
            {
                Submitted.Add(1, QueueAndType(tasks[i].Queue, tasks[i].Type));
            }

            if (span is null)
            {
                continue;
            }

            if (results is not null)
            {
                span.SetTag(MessagingMessageId, results[i].Id.ToString());
                span.SetTag(TaskDuplicate, results[i].Duplicate);
            }
            else
            {
                span.SetStatus(ActivityStatusCode.Error, error?.Message);
            }

            span.Dispose();
        }
    }

    /// <summary>Tasks leased to a worker: counts them, records their wait, and adds a "wait" span per task covering it.</summary>
    public void Leased(string queue, string workerId, IReadOnlyList<LeasedTask> tasks, DateTimeOffset now)
    {
        if (tasks.Count == 0)
        {
            return;
        }

        Dispatched.Add(tasks.Count, QueueTag(queue));
        var tracing = ActivitySource.HasListeners();
        foreach (var task in tasks)
        {
            var waited = now - task.EnqueuedAt;
            QueueWait.Record(Math.Max(0, waited.TotalSeconds), QueueAndType(queue, task.Type));
            if (!tracing)
            {
                continue;
            }

            using var span = StartTaskSpan($"wait {queue}", "wait", null, ActivityKind.Internal, queue, task.Type, task.TraceParent, task.TraceState,
                startTime: task.EnqueuedAt < now ? task.EnqueuedAt : now);
            if (span is not null)
            {
                span.SetTag(MessagingMessageId, task.Id.ToString());
                span.SetTag(TaskAttempt, task.Attempt);
                span.SetTag(WorkerId, workerId);
                span.SetEndTime(now.UtcDateTime);
            }
        }
    }

    /// <summary>
    /// One attempt's outcome as the store settled it (a worker's report, or the reaper's "lease expired"):
    /// counters by queue and type, the execution time, and a span in the task's trace saying what happened.
    /// </summary>
    public void Settled(TaskTrace? task, string queue, TransitionResult result, bool completion, string? error, DateTimeOffset? leasedAt, DateTimeOffset now)
    {
        var tags = QueueAndType(queue, task?.Type);
        var (outcome, spanName) = result switch
        {
            TransitionResult.Ok when completion => ("completed", "complete"),
            TransitionResult.Retrying => ("retried", "retry"),
            TransitionResult.DeadLettered => ("dead_lettered", "dead-letter"),
            TransitionResult.Cancelled => ("cancelled", "cancel"),
            TransitionResult.StaleLease or TransitionResult.NotFound => ("stale", "reject"),
            _ => ((string?)null, (string?)null),
        };
        switch (outcome)
        {
            case "completed":
                Completed.Add(1, tags);
                break;
            case "retried":
                Failed.Add(1, tags);
                Retried.Add(1, tags);
                break;
            case "dead_lettered":
                Failed.Add(1, tags);
                DeadLettered.Add(1, tags);
                break;
            case "stale":
                StaleReports.Add(1, QueueTag(queue));
                break;
            default:
                break;
        }

        if (outcome is null)
        {
            return;
        }

        if (leasedAt is { } since && outcome != "stale")
        {
            var executionTags = tags;
            executionTags.Add(TaskOutcome, outcome);
            Execution.Record(Math.Max(0, (now - since).TotalSeconds), executionTags);
        }

        if (task is null || !ActivitySource.HasListeners())
        {
            return;
        }

        using var span = StartTaskSpan($"{spanName} {queue}", spanName!, "settle", ActivityKind.Internal, queue, task.Type, task.TraceParent, task.TraceState, startTime: default);
        if (span is null)
        {
            return;
        }

        span.SetTag(MessagingMessageId, task.Id.ToString());
        span.SetTag(TaskAttempt, task.Attempt);
        span.SetTag(TaskMaxAttempts, task.MaxAttempts);
        span.SetTag(TaskOutcome, outcome);
        if (!string.IsNullOrEmpty(error))
        {
            span.SetTag(TaskError, error);
        }

        if (outcome is "dead_lettered" or "stale")
        {
            span.SetStatus(ActivityStatusCode.Error, outcome == "stale" ? "the report's lease was no longer the sender's" : error);
        }
    }

    private static Activity? StartTaskSpan(
        string name, string operation, string? operationType, ActivityKind kind, string queue, string type,
        string? traceParent, string? traceState, DateTimeOffset startTime)
    {
        // Task spans belong to the task's trace. Only an enqueue may start without one: it then joins the
        // submit call's trace (or starts a new one), and that context is stored with the task.
        var hasParent = ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var parent);
        if (!hasParent && operation != "enqueue")
        {
            return null;
        }

        // Never left current: the spans outlive or sit beside the code that records them.
        var previous = Activity.Current;
        var span = ActivitySource.StartActivity(kind, parent, startTime: startTime, name: name);
        Activity.Current = previous;
        if (span is not null)
        {
            span.SetTag(MessagingSystem, SystemName);
            span.SetTag(MessagingOperationName, operation);
            if (operationType is not null)
            {
                span.SetTag(MessagingOperationType, operationType);
            }

            span.SetTag(MessagingDestinationName, queue);
            span.SetTag(TaskType, type);
        }

        return span;
    }

    public void Dispose() => _meter.Dispose();
}

/// <summary>What the broker keeps of a leased task for telemetry: its type, attempt and trace context.</summary>
public sealed record TaskTrace(TaskId Id, string Type, int Attempt, int MaxAttempts, string? TraceParent, string? TraceState);
